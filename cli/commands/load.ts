/** `fleetctl load UNIT...`: submit if needed, schedule (desired state loaded), and wait. */
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { createUnitArgs, setTargetStates } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import { blockAttempts, tryWaitForUnitStates } from "../waits.js";
import { type BlockOpts, printReason } from "./start.js";

export const registerLoad: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("load")
    .summary("Schedule one or more units in the cluster, first submitting them if necessary.")
    .description(
      "Load one or many units in the cluster into systemd, but do not start.\n\nSelect units to load by glob matching for units in the current working directory\nor matching the names of previously submitted units.\n\nFor units which are not global, load operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a loaded state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Load operations on global\nunits are always non-blocking.",
    )
    .argument("[unit...]")
    .option("--sign", "DEPRECATED - this option cannot be used")
    .option(
      "--block-attempts <n>",
      "Wait until the jobs are loaded, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.",
      integer("--block-attempts"),
      0,
    )
    .option(
      "--no-block",
      "Do not wait until the jobs have been loaded before exiting. Always the case for global units.",
    )
    .option("--replace", "Replace the old scheduled units in the cluster with new versions.")
    .action(
      act<BlockOpts & { sign?: boolean }>(runner, async (args, opts) => {
        const machines = await createUnitArgs(ctx, args, opts.sign, {
          maxAttempts: opts.blockAttempts,
          ...(opts.replace ? { replace: { command: "load" } } : {}),
        });
        if (typeof machines === "number") return machines;
        const loading: string[] = [];
        try {
          for (const u of await setTargetStates(ctx, args, "loaded")) {
            if (isGlobal(u)) ctx.io.stdout(line(`Triggered global unit ${u.name} load`));
            else loading.push(u.name);
          }
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error loading units: ${err.message}`));
          return 1;
        }
        const max = blockAttempts({ noBlock: !opts.block, blockAttempts: opts.blockAttempts });
        const waitErr = await tryWaitForUnitStates(ctx, machines, loading, "load", "loaded", max);
        if (waitErr !== undefined) {
          ctx.io.stderr(line(`Error waiting for unit states, exit status: ${waitErr.message}`));
          printReason(ctx, waitErr);
          return 1;
        }
        return 0;
      }),
    );
};
