/** `fleetctl cat UNIT`: the unit file as submitted, byte for byte as fleet printed it. */
import { mangleUnitName } from "../../units/unit-name.js";
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { unitText } from "../unit-sources.js";

export const registerCat: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("cat")
    .summary("Output the contents of a submitted unit")
    .description(
      "Outputs the unit file that is currently loaded in the cluster. Useful to verify\nthe correct version of a unit is running.",
    )
    .argument("[unit...]")
    .action(
      act(runner, async (args) => {
        if (args.length !== 1) {
          ctx.io.stderr(line("One unit file must be provided"));
          return 1;
        }
        const name = mangleUnitName(args[0] as string);
        try {
          const u = await ctx.api().unit(name);
          if (u === undefined) {
            ctx.io.stderr(line(`Unit ${name} not found`));
            return 1;
          }
          ctx.io.stdout(unitText(u.options));
          return 0;
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error retrieving Unit ${name}: ${err.message}`));
          return 1;
        }
      }),
    );
};
