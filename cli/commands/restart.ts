/**
 * `fleetctl restart UNIT...`: a rolling restart, one unit at a time: stop it (wait for
 * loaded), start it (wait for launched and for systemd to say active), then the next. fleet
 * waited for "launched" after the stop too, which passed at once while the unit was still
 * running; here each step waits for its own state. A global unit is stopped and started
 * everywhere at once (its states on every machine are waited for).
 */
import { act, integer, type Register } from "../command-kit.js";
import { type Context, line } from "../context.js";
import { CliError } from "../errors.js";
import { MachineCache } from "../machines.js";
import { findUnits } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import { lazyCreateUnits } from "../unit-sources.js";
import {
  blockAttempts,
  tryWaitForSystemdActive,
  tryWaitForUnitStates,
  waitForGlobalStopped,
} from "../waits.js";
import type { WireUnit } from "../wire.js";
import { printReason } from "./start.js";

async function step(
  ctx: Context,
  machines: MachineCache,
  u: WireUnit,
  state: "loaded" | "launched",
  max: number,
): Promise<boolean> {
  try {
    await ctx.api().setDesiredState(u.name, state);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    ctx.io.stderr(line(`Error setting target state for unit ${u.name}: ${err.message}`));
    return false;
  }
  const waitErr = await tryWaitForUnitStates(ctx, machines, [u.name], "restart", state, max);
  if (waitErr !== undefined) {
    ctx.io.stderr(line(`Error waiting for unit states, exit status: ${waitErr.message}`));
    printReason(ctx, waitErr);
    return false;
  }
  if (state === "loaded" && isGlobal(u)) {
    if ((await waitForGlobalStopped(ctx, u.name, max)) !== undefined) return false;
  }
  if (state === "launched") {
    const activeErr = await tryWaitForSystemdActive(ctx, [u.name], max);
    if (activeErr !== undefined) {
      ctx.io.stderr(line(`Error waiting for systemd unit states, err: ${activeErr.message}`));
      return false;
    }
  }
  return true;
}

export const registerRestart: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("restart")
    .summary("Instruct systemd to rolling restart one or more units in the cluster.")
    .description(
      "Restarts one or more units in the cluster, one at a time. If they are stopped it starts them.\n\nEach unit is stopped, then started, and fleetctl waits until it is active again\nbefore it restarts the next one. --block-attempts bounds each wait.\n\nRestart a single unit:\n\tfleetctl restart foo.service",
    )
    .argument("[unit...]")
    .option(
      "--block-attempts <n>",
      "Wait until the units are stopped/started, performing up to N attempts before giving up. A value of 0 indicates no limit.",
      integer("--block-attempts"),
      0,
    )
    .action(
      act<{ blockAttempts: number }>(runner, async (args, opts) => {
        if (args.length === 0) {
          ctx.io.stderr(line("No units given"));
          return 0;
        }
        const machines = new MachineCache(ctx.api());
        let units: WireUnit[];
        try {
          units = await findUnits(ctx, args);
          await lazyCreateUnits(ctx, machines, args, { maxAttempts: opts.blockAttempts });
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error creating units: ${err.message}`));
          return 1;
        }
        const max = blockAttempts({ blockAttempts: opts.blockAttempts });
        for (const u of units) {
          if (isGlobal(u)) {
            // A global unit's desired state is its only state the API shows.
            if (!(await step(ctx, machines, u, "loaded", max))) return 1;
            if (!(await step(ctx, machines, u, "launched", max))) return 1;
            continue;
          }
          if (u.currentState === "inactive") {
            ctx.io.stderr(line(`Unable to restart unit ${u.name} in state inactive`));
            continue;
          }
          if (u.currentState === "launched" && !(await step(ctx, machines, u, "loaded", max)))
            return 1;
          if (!(await step(ctx, machines, u, "launched", max))) return 1;
        }
        return 0;
      }),
    );
};
