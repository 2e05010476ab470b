/** `fleetctl destroy UNIT...`: remove units from the cluster entirely. */
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { resolveUnitArgs } from "../unit-actions.js";

export const registerDestroy: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("destroy")
    .summary("Destroy one or more units in the cluster")
    .description(
      "Completely remove one or more running or submitted units from the cluster.\n\nInstructs systemd on the host machine to destroy the unit, deferring to systemd\ncompletely for any custom stop directives (i.e. ExecStop option in the unit\nfile).\n\nDestroyed units are impossible to start unless re-submitted.",
    )
    .argument("[unit...]")
    .option(
      "--block-attempts <n>",
      "Accepted for fleet's scripts; destroy is immediate in fleet-ts",
      integer("--block-attempts"),
      0,
    )
    .option("--no-block", "Accepted for fleet's scripts; destroy is immediate in fleet-ts")
    .action(
      act(runner, async (args) => {
        const units = await resolveUnitArgs(ctx, args);
        if (typeof units === "number") return units;
        let exit = 0;
        for (const u of units) {
          try {
            // Gone already (destroyed by someone else meanwhile) is what was asked for.
            await ctx.api().destroyUnit(u.name);
          } catch (err) {
            if (!(err instanceof CliError)) throw err;
            ctx.io.stderr(line(`Error destroying units: ${err.message}`));
            exit = 1;
            continue;
          }
          ctx.io.stdout(line(`Destroyed ${u.name}`));
        }
        return exit;
      }),
    );
};
