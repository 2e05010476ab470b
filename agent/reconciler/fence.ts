/**
 * @module agent/reconciler/fence
 * The at-most-once decision, pure: when a cut-off agent must stop its units, when it may run
 * them again, and which ones.
 *
 * The lease cannot expire before `renewedNotBefore + TTL` (the send time of the last keepalive
 * etcd answered, plus the TTL), and the leader reschedules only after it expires. So an agent
 * that stops its non-global units by then never runs one while another machine runs it too.
 * It starts stopping `FENCE_STOP_BUDGET` of the TTL before that moment: that much time is left
 * for the stop jobs (units whose stop takes longer than agent_ttl/3 are not covered).
 * Global units stay: they run on every machine anyway, so a copy here is never a second one.
 */
import { unitRequirements } from "../../units/requirements.js";
import { parseUnitFile } from "../../units/unit-file.js";
import { type CurrentUnit, isRunning, type Task } from "./plan.js";

/** Share of the TTL kept for stopping units before the lease can expire. */
export const FENCE_STOP_BUDGET = 1 / 3;

export interface FenceInput {
  readonly now: number;
  /** LeaseKeeper.renewedNotBefore of the current lease (ms). */
  readonly renewedNotBefore: number;
  readonly ttlMs: number;
  /** When the agent fenced itself; undefined while it runs its units. */
  readonly fencedSince: number | undefined;
  /** The lease was replaced and the schedule is being listed again: what we knew is stale. */
  readonly relisting: boolean;
}

/** The moment a cut-off agent starts stopping its units. */
export function fenceDeadline(renewedNotBefore: number, ttlMs: number): number {
  return renewedNotBefore + ttlMs * (1 - FENCE_STOP_BUDGET);
}

/**
 * "fence": stop non-global units now. "unfence": a keepalive sent after the fence began was
 * answered, so the lease never expired and nothing was rescheduled: run them again.
 * "hold": keep doing what we do.
 */
export function fenceDecision(i: FenceInput): "fence" | "unfence" | "hold" {
  const late = i.now >= fenceDeadline(i.renewedNotBefore, i.ttlMs);
  if (i.fencedSince === undefined) return late || i.relisting ? "fence" : "hold";
  if (i.relisting || late) return "hold";
  return i.renewedNotBefore > i.fencedSince ? "unfence" : "hold";
}

/** Stops for every unit this agent runs that is not global (the only tasks while fenced). */
export function planFence(
  current: ReadonlyMap<string, CurrentUnit>,
  global: ReadonlySet<string>,
): Task[] {
  const stops: Task[] = [];
  for (const [name, have] of [...current].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (global.has(name)) continue;
    if (have.launched || isRunning(have.activeState)) {
      stops.push({
        type: "stop",
        unit: name,
        reason: "at_most_once: cut off from etcd, the lease may expire",
      });
    }
  }
  return stops;
}

/** Whether the unit file says `Global=true` (unreadable text counts as not global: stop it). */
export function isGlobalUnitText(name: string, text: string): boolean {
  try {
    return unitRequirements(name, parseUnitFile(text).options).global;
  } catch {
    return false;
  }
}
