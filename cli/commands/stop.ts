/** `fleetctl stop UNIT...`: desired state loaded (stopped but still scheduled), and wait. */
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { resolveUnitArgs, waitForTargetState } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import type { BlockOpts } from "./start.js";

export const registerStop: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("stop")
    .summary("Instruct systemd to stop one or more units in the cluster.")
    .description(
      "Stop one or more units from running in the cluster, but allow them to be\nstarted again in the future.\n\nInstructs systemd on the host machine to stop the unit, deferring to systemd\ncompletely for any custom stop directives (i.e. ExecStop option in the unit\nfile).\n\nFor units which are not global, stop operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a stopped state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Stop operations on global\nunits are always non-blocking.",
    )
    .argument("[unit...]")
    .option(
      "--block-attempts <n>",
      "Wait until the units are stopped, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.",
      integer("--block-attempts"),
      0,
    )
    .option(
      "--no-block",
      "Do not wait until the units have stopped before exiting. Always the case for global units.",
    )
    .action(
      act<BlockOpts>(runner, async (args, opts) => {
        const units = await resolveUnitArgs(ctx, args);
        if (typeof units === "number") return units;
        const stopping: string[] = [];
        for (const u of units) {
          const global = isGlobal(u);
          if (!global) {
            if (u.currentState === "inactive") {
              ctx.io.stderr(line(`Unable to stop unit ${u.name} in state inactive`));
              return 1;
            }
            if (u.currentState === "loaded") continue;
          }
          await ctx.api().setDesiredState(u.name, "loaded");
          if (global) ctx.io.stdout(line(`Triggered global unit ${u.name} stop`));
          else stopping.push(u.name);
        }
        return waitForTargetState(ctx, stopping, opts, {
          verb: "stop",
          done: "stopped",
          state: "loaded",
        });
      }),
    );
};
