/**
 * @module cli/unit-actions
 * The lookups and desired-state changes several commands share (fleet's findUnits and
 * setTargetStateOfUnits).
 */
import { mangleUnitName } from "../units/unit-name.js";
import type { Context } from "./context.js";
import { CliError } from "./errors.js";
import type { WireUnit } from "./wire.js";

/** The named units that exist, in the order named; unknown names are skipped, as fleet did. */
export async function findUnits(ctx: Context, args: readonly string[]): Promise<WireUnit[]> {
  const all = new Map((await ctx.api().units()).map((u) => [u.name, u]));
  return args.flatMap((a) => {
    const u = all.get(mangleUnitName(a));
    return u === undefined ? [] : [u];
  });
}

/** Sets the desired state of each named unit that is not already there; returns those changed. */
export async function setTargetStates(
  ctx: Context,
  args: readonly string[],
  state: string,
): Promise<WireUnit[]> {
  const triggered: WireUnit[] = [];
  for (const name of args.map(mangleUnitName)) {
    let u: WireUnit | undefined;
    try {
      u = await ctx.api().unit(name);
    } catch (err) {
      if (err instanceof CliError)
        throw new CliError(`error retrieving unit ${name} from registry: ${err.message}`);
      throw err;
    }
    if (u === undefined) throw new CliError(`unable to find unit ${name}`);
    if (u.desiredState === state) continue;
    await ctx.api().setDesiredState(u.name, state);
    triggered.push(u);
  }
  return triggered;
}
