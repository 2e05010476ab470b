/** `fleetctl submit UNIT...`: upload units without scheduling them (idempotent). */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { MachineCache } from "../machines.js";
import { lazyCreateUnits } from "../unit-sources.js";

export const registerSubmit: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("submit")
    .summary("Upload one or more units to the cluster without starting them")
    .description(
      "Upload one or more units to the cluster without starting them. Useful\nfor validating units before they are started.\n\nThis operation is idempotent; if a named unit already exists in the cluster, it will not be resubmitted.\n\nSubmit a single unit:\nfleetctl submit foo.service\n\nSubmit a directory of units with glob matching:\nfleetctl submit myservice/*",
    )
    .argument("[unit...]")
    .option("--sign", "DEPRECATED - this option cannot be used")
    .option("--replace", "Replace the old submitted units in the cluster with new versions.")
    .action(
      act<{ sign?: boolean; replace?: boolean }>(runner, async (args, opts) => {
        if (opts.sign) {
          ctx.io.stderr(
            line("WARNING: The signed/verified units feature is DEPRECATED and cannot be used."),
          );
          return 2;
        }
        if (args.length === 0) {
          ctx.io.stderr(line("No units given"));
          return 0;
        }
        try {
          // fleet's submit had no --block-attempts: it waited as long as it took.
          await lazyCreateUnits(ctx, new MachineCache(ctx.api()), args, {
            maxAttempts: 0,
            ...(opts.replace ? { replace: { command: "submit" } } : {}),
          });
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error creating units: ${err.message}`));
          return 1;
        }
        return 0;
      }),
    );
};
