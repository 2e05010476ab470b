/**
 * @module cli/command-kit
 * How a command plugs into the program: its action returns the exit code (fleet's commands
 * returned theirs), and errors nobody expected still end as a message and code 1, never as a
 * stack trace.
 */
import { type Command, InvalidArgumentError } from "commander";
import { type Context, line } from "./context.js";
import { CliError } from "./errors.js";

export interface Runner {
  readonly ctx: Context;
  setExit(code: number): void;
}

/** A command module: adds its subcommand to `program`. */
export type Register = (program: Command, runner: Runner) => void;

/**
 * Wraps a command body for commander: `body(args, opts)` returns the exit code. A CliError
 * that escapes (the API unreachable mid-way, say) is printed as `Error: ...` with code 1, and
 * so is anything else (a bug in fleetctl), in one line naming what was thrown.
 */
export function act<O>(
  runner: Runner,
  body: (args: string[], opts: O) => Promise<number>,
): (...params: unknown[]) => Promise<void> {
  // commander passes (...declared arguments, options, command): read both off the command.
  return async (...params) => {
    const cmd = params[params.length - 1] as Command;
    const args = cmd.processedArgs.flat().filter((a): a is string => typeof a === "string");
    try {
      runner.setExit(await body(args, cmd.opts() as O));
    } catch (err) {
      runner.ctx.io.stderr(line(`Error: ${describeFailure(err)}`));
      runner.setExit(1);
    }
  };
}

/** The one line an escaped error is reported as (newlines would break fleet's line format). */
export function describeFailure(err: unknown): string {
  if (err instanceof CliError) return oneLine(err.message);
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `fleetctl failed unexpectedly (${oneLine(what)}); this is a bug in fleetctl, please report it`;
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim();

/** For options given as numbers (--block-attempts=3, --lines 100). */
export function integer(name: string): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value)) {
      throw new InvalidArgumentError(`${name} must be an integer.`);
    }
    return Number(value);
  };
}
