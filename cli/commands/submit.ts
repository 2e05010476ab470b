/** `fleetctl submit UNIT...`: upload units without scheduling them (idempotent). */
import { act, type Register } from "../command-kit.js";
import { createUnitArgs } from "../unit-actions.js";

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
        const created = await createUnitArgs(ctx, args, opts.sign, {
          // fleet's submit had no --block-attempts: it waited as long as it took.
          maxAttempts: 0,
          ...(opts.replace ? { replace: { command: "submit" } } : {}),
        });
        return typeof created === "number" ? created : 0;
      }),
    );
};
