/** `fleetctl unload UNIT...`: desired state inactive (unscheduled, still submitted), and wait. */
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { resolveUnitArgs, waitForTargetState } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import type { BlockOpts } from "./start.js";

export const registerUnload: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("unload")
    .summary("Unschedule one or more units in the cluster.")
    .argument("[unit...]")
    .option(
      "--block-attempts <n>",
      "Wait until the units are inactive, performing up to N attempts before giving up. A value of 0 indicates no limit.",
      integer("--block-attempts"),
      0,
    )
    .option("--no-block", "Do not wait until the units have become inactive before exiting.")
    .action(
      act<BlockOpts>(runner, async (args, opts) => {
        const units = await resolveUnitArgs(ctx, args);
        if (typeof units === "number") return units;
        const wait: string[] = [];
        for (const u of units) {
          const global = isGlobal(u);
          if (!global && u.currentState === "inactive") continue;
          await ctx.api().setDesiredState(u.name, "inactive");
          if (global) ctx.io.stdout(line(`Triggered global unit ${u.name} unload`));
          else wait.push(u.name);
        }
        return waitForTargetState(ctx, wait, opts, {
          verb: "unload",
          done: "unloaded",
          state: "inactive",
        });
      }),
    );
};
