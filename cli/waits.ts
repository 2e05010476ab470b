/**
 * @module cli/waits
 * fleetctl's blocking: after changing a desired state, poll until each unit reports the state
 * (`Unit x launched on 1c82c571.../10.0.0.1`), giving up after --block-attempts attempts of
 * 2 s each (0: never), or not waiting at all with --no-block. The loops and their messages are
 * fleet's (fleetctl.go: checkUnitState, waitForState, checkSystemdActiveState).
 */
import { type Context, line, sleep } from "./context.js";
import type { MachineCache } from "./machines.js";
import { isGlobal } from "./unit-kind.js";
import type { WireState, WireUnit } from "./wire.js";

/** Negative: do not wait. 0: wait forever. N: up to N attempts. */
export function blockAttempts(opts: { noBlock?: boolean; blockAttempts?: number }): number {
  if (opts.noBlock) return -1;
  return opts.blockAttempts !== undefined && opts.blockAttempts > 0 ? opts.blockAttempts : 0;
}

export class WaitTimeout extends Error {
  override name = "WaitTimeout";
  constructor(
    message: string,
    /** The unit as last seen, for the scheduler's reason. */
    readonly last: WireUnit | undefined,
  ) {
    super(message);
  }
}

/** `check`, with an error counted as "not yet": fleet retried on every error inside an attempt (an API blip must not fail a start). */
async function passes(check: () => Promise<boolean>): Promise<boolean> {
  try {
    return await check();
  } catch {
    return false;
  }
}

/**
 * The first pauses of a wait, before fleet's pollMs: a unit starts in ~0.1–0.2 s here, and a
 * first check 250 ms after the launch made every blocking start take at least that long.
 * Doubling from 50 ms reaches fleet's 250 ms by the fourth check, so a long wait polls the
 * API no more often than fleet's fleetctl did.
 */
const FIRST_PAUSE_MS = 50;

/** One attempt: check every pollMs (the first attempt sooner) until `check` passes or attemptMs elapsed. */
async function attempt(
  ctx: Context,
  check: () => Promise<boolean>,
  first: boolean,
): Promise<boolean> {
  const deadline = Date.now() + ctx.pace.attemptMs;
  for (let k = 0; ; k++) {
    const pause = first ? Math.min(ctx.pace.pollMs, FIRST_PAUSE_MS * 2 ** k) : ctx.pace.pollMs;
    await sleep(pause, ctx.io.signal);
    if (ctx.io.signal?.aborted) return false;
    if (await passes(check)) return true;
    if (Date.now() >= deadline) return false;
  }
}

async function attempts(
  ctx: Context,
  max: number,
  check: () => Promise<boolean>,
): Promise<boolean> {
  // Checked once before the first pause, where fleet slept 250 ms first: a unit just created
  // is already "inactive", so `start` of local files waited a quarter of a second for nothing.
  if (await passes(check)) return true;
  for (let i = 0; max < 1 || i < max; i++) {
    if (await attempt(ctx, check, i === 0)) return true;
    if (ctx.io.signal?.aborted) return false;
  }
  return false;
}

/**
 * Waits until the unit's current state (desired state for a global unit, which has none) is
 * `state`, then prints `Unit <name> <currentState>[ on <machine>]` to `print`.
 */
export async function waitForUnitState(
  ctx: Context,
  machines: MachineCache,
  name: string,
  state: string,
  max: number,
  print: (text: string) => void = ctx.io.stdout,
): Promise<void> {
  let last: WireUnit | undefined;
  const ok = await attempts(ctx, max, async () => {
    const u = await ctx.api().unit(name);
    last = u;
    if (u === undefined) return false;
    const global = isGlobal(u);
    if ((global ? u.desiredState : u.currentState) !== state) return false;
    // A global unit has no current state of its own: fleet printed an empty one.
    let msg = `Unit ${name} ${global ? "" : u.currentState}`;
    if (u.machineID !== undefined && u.machineID !== "") {
      const m = await machines.get(u.machineID);
      if (m !== undefined) msg = `${msg} on ${await machines.legend(u.machineID, false)}`;
    }
    print(line(msg));
    return true;
  });
  if (!ok)
    throw new WaitTimeout(`timed out waiting for unit ${name} to report state ${state}`, last);
}

/**
 * fleet's tryWaitForUnitStates: all units at once; the first failure is reported as
 * `Error waiting for units: ...` and returned.
 */
export async function tryWaitForUnitStates(
  ctx: Context,
  machines: MachineCache,
  units: readonly string[],
  verb: string,
  state: string,
  max: number,
): Promise<WaitTimeout | undefined> {
  if (max <= -1) {
    for (const name of units) ctx.io.stdout(line(`Triggered unit ${name} ${verb}`));
    return undefined;
  }
  const results = await Promise.allSettled(
    units.map((n) => waitForUnitState(ctx, machines, n, state, max)),
  );
  for (const r of results) {
    if (r.status === "rejected") {
      const err =
        r.reason instanceof WaitTimeout ? r.reason : new WaitTimeout(String(r.reason), undefined);
      ctx.io.stderr(line(`Error waiting for units: ${err.message}`));
      return err;
    }
  }
  return undefined;
}

/** fleet's tryWaitForSystemdActiveState: systemd on the unit's machine says active/loaded. */
export async function tryWaitForSystemdActive(
  ctx: Context,
  units: readonly string[],
  max: number,
): Promise<Error | undefined> {
  if (max <= -1) {
    for (const name of units) ctx.io.stdout(line(`Triggered unit ${name} start`));
    return undefined;
  }
  const results = await Promise.all(
    units.map(async (name) => {
      const ok = await attempts(ctx, max, async () => {
        const u = await ctx.api().unit(name);
        if (u === undefined) return false;
        // A global unit is active when it is active on every machine that reports it; any
        // other has one state, read alone (a listing of every state would be filtered here).
        const here = isGlobal(u)
          ? (await ctx.api().states(name)).filter((s) => s.name === name)
          : [await ctx.api().stateOf(name)].filter(
              (s): s is WireState => s !== undefined && s.machineID === u.machineID,
            );
        return (
          here.length > 0 &&
          here.every((s) => s.systemdActiveState === "active" && s.systemdLoadState === "loaded")
        );
      });
      return ok
        ? undefined
        : new Error(
            `Failed to find an active unit ${name} within ${ctx.pace.attemptMs / 1000}s: timed out waiting for unit ${name} to report active state`,
          );
    }),
  );
  const err = results.find((e) => e !== undefined);
  if (err !== undefined) ctx.io.stderr(line(`Error waiting for units: ${err.message}`));
  return err;
}

/**
 * Waits until no machine reports the global unit `name` active: the agents have acted on a
 * stop, so a start that follows is a restart and not a no-op.
 */
export async function waitForGlobalStopped(
  ctx: Context,
  name: string,
  max: number,
): Promise<Error | undefined> {
  if (max <= -1) return undefined;
  const ok = await attempts(ctx, max, async () =>
    (await ctx.api().states(name)).every(
      (s) => s.name !== name || s.systemdActiveState !== "active",
    ),
  );
  if (ok) return undefined;
  const err = new Error(`timed out waiting for global unit ${name} to stop on every machine`);
  ctx.io.stderr(line(`Error waiting for units: ${err.message}`));
  return err;
}
