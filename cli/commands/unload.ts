/** `fleetctl unload UNIT...`: desired state inactive (unscheduled, still submitted), and wait. */
import { act, integer, type Register } from "../command-kit.js";
import { goList, line } from "../context.js";
import { CliError } from "../errors.js";
import { MachineCache } from "../machines.js";
import { findUnits } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import { blockAttempts, tryWaitForUnitStates } from "../waits.js";
import type { WireUnit } from "../wire.js";
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
        if (args.length === 0) {
          ctx.io.stderr(line("No units given"));
          return 0;
        }
        let units: WireUnit[];
        try {
          units = await findUnits(ctx, args);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(err.message));
          return 1;
        }
        if (units.length === 0) {
          ctx.io.stderr(line("Units not found in registry"));
          return 0;
        }
        const wait: string[] = [];
        for (const u of units) {
          const global = isGlobal(u);
          if (!global && u.currentState === "inactive") continue;
          await ctx.api().setDesiredState(u.name, "inactive");
          if (global) ctx.io.stdout(line(`Triggered global unit ${u.name} unload`));
          else wait.push(u.name);
        }
        const max = blockAttempts({ noBlock: !opts.block, blockAttempts: opts.blockAttempts });
        const machines = new MachineCache(ctx.api());
        const err = await tryWaitForUnitStates(ctx, machines, wait, "unload", "inactive", max);
        if (err !== undefined) {
          ctx.io.stderr(line(`Failed to unload units ${goList(wait)}. err: ${err.message}`));
          return 1;
        }
        ctx.io.stderr(line(`Successfully unloaded units ${goList(wait)}.`));
        return 0;
      }),
    );
};
