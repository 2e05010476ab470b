/**
 * @module agent/engine/changes
 * From the cluster as the leader sees it to the writes that make etcd say what the scheduler
 * decided: pure, so "nothing changed → nothing written" is a unit test.
 *
 * Beyond placements, a schedule entry carries the unit's hash and desired state (so that a
 * start, stop or unit change wakes only the agents that run it): an entry whose hash or state
 * no longer matches its unit is written again.
 */
import { unitRequirements } from "../../units/requirements.js";
import { planSchedule, type SchedulePlan } from "../../units/scheduler/index.js";
import type { ClusterSnapshot, SchedulerUnit } from "../../units/scheduler/snapshot.js";
import type { ScheduleChange, ScheduleEntry, UnitRecord } from "../registry/index.js";
import { mergeMetadata } from "../registry/machines.js";
import type { ClusterView } from "./cluster-view.js";

/** Requirements only change with the unit's text: compute them once per (name, hash). */
export class RequirementsCache {
  readonly #cache = new Map<string, SchedulerUnit["requirements"]>();
  get(unit: UnitRecord): SchedulerUnit["requirements"] {
    const key = `${unit.name}\u0000${unit.hash}`;
    let r = this.#cache.get(key);
    if (r === undefined) {
      r = unitRequirements(unit.name, unit.options);
      if (this.#cache.size > 100_000) this.#cache.clear();
      this.#cache.set(key, r);
    }
    return r;
  }
}

export function schedulerSnapshot(view: ClusterView, cache: RequirementsCache): ClusterSnapshot {
  return {
    machines: [...view.machines.values()].map((m) => ({
      id: m.id,
      metadata: mergeMetadata(m.metadata, view.metadata.get(m.id)),
      ...(view.draining.has(m.id) ? { draining: true } : {}),
    })),
    units: [...view.units.values()].map((u) => ({
      name: u.name,
      desiredState: u.desiredState,
      requirements: cache.get(u),
    })),
    schedule: Object.fromEntries(
      [...view.schedule].map(([unit, byMachine]) => [unit, [...byMachine.keys()]]),
    ),
  };
}

function entryFor(unit: UnitRecord): ScheduleEntry | undefined {
  return unit.desiredState === "inactive"
    ? undefined
    : { hash: unit.hash, desiredState: unit.desiredState };
}

/** The writes that bring etcd to `plan`, given what the view holds. */
export function changesFor(view: ClusterView, plan: SchedulePlan): ScheduleChange[] {
  const out: ScheduleChange[] = [];
  for (const c of plan.changes) {
    if (c.type === "unschedule")
      out.push({ type: "unschedule", unit: c.unit, machineId: c.machine });
  }
  for (const [name, machines] of Object.entries(plan.placements)) {
    const unit = view.units.get(name);
    const entry = unit && entryFor(unit);
    if (entry === undefined) continue;
    const current = view.schedule.get(name);
    for (const machineId of machines) {
      const have = current?.get(machineId);
      if (have?.hash !== entry.hash || have.desiredState !== entry.desiredState) {
        out.push({ type: "schedule", unit: name, machineId, entry });
      }
    }
  }
  for (const [name, reason] of Object.entries(plan.unschedulable)) {
    if (view.unschedulable.get(name) !== reason) out.push({ type: "reason", unit: name, reason });
  }
  for (const name of view.unschedulable.keys()) {
    if (!(name in plan.unschedulable)) out.push({ type: "reason", unit: name, reason: undefined });
  }
  return out;
}

/** One decision: plan from the view, and the writes it needs. */
export function decide(
  view: ClusterView,
  cache: RequirementsCache,
): { plan: SchedulePlan; changes: ScheduleChange[] } {
  const plan = planSchedule(schedulerSnapshot(view, cache));
  return { plan, changes: changesFor(view, plan) };
}
