/**
 * `fleetctl drain MACHINE` / `fleetctl undrain MACHINE` (fleet-ts): stop placing units on a
 * machine and move its non-global units elsewhere, or let it take units again. MACHINE is the
 * full ID or an unambiguous prefix (the 8 characters list-machines shows).
 */
import { act, type Register } from "../command-kit.js";
import { type Context, line } from "../context.js";
import { CliError } from "../errors.js";
import { type OutputFormat, outputOption, printJson } from "../output.js";

/** The full machine ID for an ID or prefix, or a message saying why not. */
async function resolveMachine(ctx: Context, given: string): Promise<string | { error: string }> {
  const ids = (await ctx.api().machines()).map((m) => m.id);
  if (ids.includes(given)) return given;
  const matches = ids.filter((id) => id.startsWith(given.replace(/\.\.\.$/, "")));
  if (matches.length === 1) return matches[0] as string;
  if (matches.length === 0)
    return { error: `Machine ${given} not found: see fleetctl list-machines` };
  return { error: `Machine ${given} is ambiguous: it matches ${matches.join(", ")}` };
}

function register(verb: "drain" | "undrain", summary: string, description: string): Register {
  return (program, runner) => {
    const { ctx } = runner;
    program
      .command(verb)
      .summary(summary)
      .description(description)
      .argument("[machine...]")
      .addOption(outputOption())
      .action(
        act<{ output: OutputFormat }>(runner, async (args, opts) => {
          if (args.length !== 1) {
            ctx.io.stderr(line("One machine ID must be provided"));
            return 1;
          }
          try {
            const id = await resolveMachine(ctx, args[0] as string);
            if (typeof id !== "string") {
              ctx.io.stderr(line(id.error));
              return 1;
            }
            if (verb === "undrain") {
              await ctx.api().undrain(id);
              const info = await ctx.api().drainInfo(id);
              if (opts.output === "json") printJson(ctx, info);
              else ctx.io.stdout(line(`Machine ${id} undrained: units may be placed on it again`));
              return 0;
            }
            const info = await ctx.api().drain(id);
            if (opts.output === "json") printJson(ctx, info);
            else {
              ctx.io.stdout(line(`Machine ${id} draining`));
              for (const u of info.units) ctx.io.stdout(line(`  still there: ${u}`));
            }
            return 0;
          } catch (err) {
            if (!(err instanceof CliError)) throw err;
            ctx.io.stderr(
              line(`Error ${verb === "drain" ? "draining" : "undraining"} machine: ${err.message}`),
            );
            return 1;
          }
        }),
      );
  };
}

export const registerDrain = register(
  "drain",
  "Move units off a machine and place no more there (fleet-ts)",
  "Marks the machine as draining: the scheduler places no more units there and moves its\nnon-global units to other eligible machines. Global units keep running there.\nThe mark survives the machine's restart; undo it with fleetctl undrain.",
);
export const registerUndrain = register(
  "undrain",
  "Let a drained machine take units again (fleet-ts)",
  "Clears a machine's draining mark: the scheduler may place units there again.",
);
