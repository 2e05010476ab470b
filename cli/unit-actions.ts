/**
 * @module cli/unit-actions
 * The lookups and desired-state changes several commands share (fleet's findUnits and
 * setTargetStateOfUnits).
 */
import { mangleUnitName } from "../units/unit-name.js";
import { type Context, goList, line } from "./context.js";
import { CliError } from "./errors.js";
import { MachineCache } from "./machines.js";
import { settleInOrder } from "./parallel.js";
import { type CreateOptions, lazyCreateUnits } from "./unit-sources.js";
import { blockAttempts, tryWaitForUnitStates } from "./waits.js";
import type { WireUnit } from "./wire.js";

/** The named units that exist, in the order named; unknown names are skipped, as fleet did. */
export async function findUnits(ctx: Context, args: readonly string[]): Promise<WireUnit[]> {
  const all = new Map((await ctx.api().units()).map((u) => [u.name, u]));
  return args.flatMap((a) => {
    const u = all.get(mangleUnitName(a));
    return u === undefined ? [] : [u];
  });
}

/**
 * Sets the desired state of each named unit that is not already there; returns those changed.
 * As fleet's loop: it acts on the units named before the first one that cannot be read or does
 * not exist, then fails on that one. The lookups and the changes are made several at a time.
 */
export async function setTargetStates(
  ctx: Context,
  args: readonly string[],
  state: string,
): Promise<WireUnit[]> {
  const names = args.map(mangleUnitName);
  const found = await settleInOrder(names, (name) => ctx.api().unit(name));
  const triggered: WireUnit[] = [];
  const queued = new Set<string>();
  let stop: unknown;
  for (const [i, r] of found.entries()) {
    const name = names[i] as string;
    if (r.status === "rejected") {
      stop =
        r.reason instanceof CliError
          ? new CliError(`error retrieving unit ${name} from registry: ${r.reason.message}`)
          : r.reason;
      break;
    }
    if (r.value === undefined) {
      stop = new CliError(`unable to find unit ${name}`);
      break;
    }
    // Named twice: the sequential loop saw its own change the second time.
    if (r.value.desiredState === state || queued.has(name)) continue;
    queued.add(name);
    triggered.push(r.value);
  }
  const set = await settleInOrder(triggered, (u) => ctx.api().setDesiredState(u.name, state));
  const failed = set.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  if (stop !== undefined) throw stop;
  return triggered;
}

/**
 * The existing units named on the command line, for stop, unload and destroy; or, when there
 * is nothing to act on, the exit code after fleet's message (none named or none found: 0; the
 * lookup failed: 1).
 */
export async function resolveUnitArgs(
  ctx: Context,
  args: readonly string[],
): Promise<WireUnit[] | number> {
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
  return units;
}

/**
 * The start of submit, load and start: refuse --sign (exit 2), say so when no units are named
 * (exit 0), then make sure each named unit exists (exit 1 if one cannot be created). Returns
 * the machine cache the creation used, for the waits that follow, or the exit code.
 */
export async function createUnitArgs(
  ctx: Context,
  args: readonly string[],
  sign: boolean | undefined,
  create: CreateOptions,
): Promise<MachineCache | number> {
  if (sign) {
    ctx.io.stderr(
      line("WARNING: The signed/verified units feature is DEPRECATED and cannot be used."),
    );
    return 2;
  }
  if (args.length === 0) {
    ctx.io.stderr(line("No units given"));
    return 0;
  }
  const machines = new MachineCache(ctx.api());
  try {
    await lazyCreateUnits(ctx, machines, args, create);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    ctx.io.stderr(line(`Error creating units: ${err.message}`));
    return 1;
  }
  return machines;
}

/**
 * The end of stop and unload: wait (as --block-attempts and --no-block say) for `units` to
 * reach `state`, then fleet's line saying whether they did; returns the exit code.
 */
export async function waitForTargetState(
  ctx: Context,
  units: readonly string[],
  opts: { readonly block: boolean; readonly blockAttempts: number },
  action: { readonly verb: "stop" | "unload"; readonly done: string; readonly state: string },
): Promise<number> {
  const max = blockAttempts({ noBlock: !opts.block, blockAttempts: opts.blockAttempts });
  const machines = new MachineCache(ctx.api());
  const err = await tryWaitForUnitStates(ctx, machines, units, action.verb, action.state, max);
  if (err !== undefined) {
    ctx.io.stderr(line(`Failed to ${action.verb} units ${goList(units)}. err: ${err.message}`));
    return 1;
  }
  ctx.io.stderr(line(`Successfully ${action.done} units ${goList(units)}.`));
  return 0;
}
