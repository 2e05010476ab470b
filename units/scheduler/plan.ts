/**
 * @module units/scheduler/plan
 * One scheduling pass over the whole cluster: snapshot in, plan out, no I/O.
 *
 * 1. Order the active units so that every unit is decided after the units it depends on:
 *    a MachineOf peer before its followers, a unit before the units it Replaces; then
 *    ordinary units before global ones (a global unit stays off machines where it would
 *    conflict with them), then by name. Chains of MachineOf thus resolve in one pass.
 * 2. Keep every current placement that is still allowed, in that order (no churn: a second pass
 *    over a plan's own result changes nothing).
 * 3. Place what is missing, in that order: a global unit on every machine that allows it; any
 *    other unit on the least-loaded machine that allows it, ties to the smallest machine ID.
 *    A unit that Replaces others takes precedence: they (and their MachineOf followers) leave
 *    its machine and are placed again further down the order.
 *    When a round evicted a unit, another round places what the eviction made possible.
 * 4. Return the placements, the changes against the snapshot, and a reason for every active
 *    unit that is placed nowhere, from the final state.
 */
import { ClusterState, compare } from "./cluster-state.js";
import { prepare, type Rejection, rejection } from "./feasibility.js";
import { summarize } from "./reasons.js";
import type {
  ClusterSnapshot,
  ScheduleChange,
  SchedulePlan,
  SchedulerMachine,
  SchedulerUnit,
} from "./snapshot.js";

/** Placement rounds at most (each round that evicts a replaced unit may free a machine). */
const MAX_ROUNDS = 10;

export function planSchedule(snapshot: ClusterSnapshot): SchedulePlan {
  const active = snapshot.units.filter((u) => u.desiredState !== "inactive");
  const state = new ClusterState(snapshot.machines, active);
  const machineById = new Map(state.machines.map((m) => [m.id, m]));
  const order = decisionOrder(active, state);
  const dropped = new Map<string, string>();
  const unschedulable: Record<string, string> = {};

  // 2. Keep what is still allowed.
  for (const unit of order) {
    let current = [...(snapshot.schedule[unit.name] ?? [])]
      .filter((m) => machineById.has(m))
      .sort(compare);
    if (!unit.requirements.global) current = current.slice(0, 1);
    for (const id of current) {
      const r = rejection(prepare(unit, state), machineById.get(id) as SchedulerMachine, state);
      if (r === undefined) state.place(unit.name, id);
      else dropped.set(`${unit.name}\u0000${id}`, `no longer allowed there: ${summarize([r])}`);
    }
  }

  // 3. Place what is missing. A unit that Replaces others evicts them, which can free a
  // machine for a unit decided earlier in the round: repeat the round until none evicts.
  for (let round = 0, evicted = true; evicted && round < MAX_ROUNDS; round++) {
    evicted = false;
    for (const unit of order) {
      if (unit.requirements.global) {
        const ctx = prepare(unit, state);
        for (const m of state.machines) {
          if (!state.machinesOf(unit.name).has(m.id) && rejection(ctx, m, state) === undefined) {
            state.place(unit.name, m.id);
          }
        }
        continue;
      }
      if (state.machinesOf(unit.name).size > 0) continue;
      if (waitingFor(unit, state, snapshot) !== undefined) continue;
      const chosen = leastLoadedFeasible(unit, state, machineById);
      if (chosen === undefined) continue;
      state.place(unit.name, chosen);
      // The units it Replaces leave this machine; they come later in the order and are placed
      // again elsewhere.
      for (const replaced of state.replaces.get(unit.name) ?? []) {
        if (evict(replaced, chosen, `moved away: ${unit.name} Replaces it`, state, dropped))
          evicted = true;
      }
    }
  }

  // 4. Say why, from the final state, for every active unit placed nowhere.
  for (const unit of order) {
    if (state.machinesOf(unit.name).size > 0) continue;
    unschedulable[unit.name] =
      (!unit.requirements.global && waitingFor(unit, state, snapshot)) || whyNowhere(unit, state);
  }

  const placements: Record<string, string[]> = {};
  for (const unit of order) {
    const at = [...state.machinesOf(unit.name)].sort(compare);
    if (at.length > 0) placements[unit.name] = at;
  }
  return {
    placements,
    changes: diff(snapshot, placements, machineById, dropped),
    unschedulable,
  };
}

/** Takes `unit` off `machine`, with the MachineOf followers that must go with it. */
function evict(
  unit: string,
  machine: string,
  reason: string,
  state: ClusterState,
  dropped: Map<string, string>,
): boolean {
  if (!state.machinesOf(unit).has(machine)) return false;
  state.unplace(unit, machine);
  dropped.set(`${unit}\u0000${machine}`, reason);
  for (const follower of [...(state.hosted.get(machine) ?? [])]) {
    const f = state.units.get(follower);
    if (f !== undefined && !f.requirements.global && f.requirements.peers.includes(unit)) {
      evict(follower, machine, `moved away with its MachineOf=${unit}`, state, dropped);
    }
  }
  return true;
}

/**
 * The least-loaded machine that allows the unit (ties to the smallest ID). A unit with a
 * MachineOf peer can only go where the peer is, so only those machines are looked at.
 */
function leastLoadedFeasible(
  unit: SchedulerUnit,
  state: ClusterState,
  machineById: ReadonlyMap<string, SchedulerMachine>,
): string | undefined {
  const ctx = prepare(unit, state);
  const peer = unit.requirements.peers[0];
  const candidates =
    peer === undefined
      ? state.byLoad()
      : [...state.machinesOf(peer)].sort((a, b) => state.load(a) - state.load(b) || compare(a, b));
  for (const id of candidates) {
    if (rejection(ctx, machineById.get(id) as SchedulerMachine, state) === undefined) return id;
  }
  return undefined;
}

function whyNowhere(unit: SchedulerUnit, state: ClusterState): string {
  const ctx = prepare(unit, state);
  const rejections: Rejection[] = [];
  for (const m of state.machines) {
    const r = rejection(ctx, m, state);
    if (r !== undefined) rejections.push(r);
  }
  return summarize(rejections);
}

/** A unit with a MachineOf peer that is placed nowhere waits for it. */
function waitingFor(
  unit: SchedulerUnit,
  state: ClusterState,
  snapshot: ClusterSnapshot,
): string | undefined {
  for (const peer of unit.requirements.peers) {
    if (state.machinesOf(peer).size > 0) continue;
    const known = snapshot.units.find((u) => u.name === peer);
    if (known === undefined) return `waiting for MachineOf=${peer}, which is not submitted`;
    if (known.desiredState === "inactive")
      return `waiting for MachineOf=${peer}, which is inactive`;
    return `waiting for MachineOf=${peer} to be scheduled`;
  }
  return undefined;
}

/**
 * Kahn's topological sort: peer before follower, replacer before replaced; among units that
 * are ready, ordinary before global, then by name. Units in a cycle come last, by name.
 */
function decisionOrder(active: readonly SchedulerUnit[], state: ClusterState): SchedulerUnit[] {
  const before = new Map<string, Set<string>>(); // unit → units that must be decided after it
  const pending = new Map<string, number>();
  for (const u of active) pending.set(u.name, 0);
  const edge = (from: string, to: string) => {
    if (from === to || !pending.has(from) || !pending.has(to)) return;
    let set = before.get(from);
    if (set === undefined) {
      set = new Set();
      before.set(from, set);
    }
    if (set.has(to)) return;
    set.add(to);
    pending.set(to, (pending.get(to) as number) + 1);
  };
  for (const u of active) {
    // A global unit's MachineOf and Replaces are ignored (fleet did too; validation refuses them).
    if (u.requirements.global) continue;
    for (const peer of u.requirements.peers) edge(peer, u.name);
    for (const replaced of state.replaces.get(u.name) ?? []) edge(u.name, replaced);
  }
  const rank = (u: SchedulerUnit) => (u.requirements.global ? 1 : 0);
  const cmp = (a: SchedulerUnit, b: SchedulerUnit) => rank(a) - rank(b) || compare(a.name, b.name);
  const byName = new Map(active.map((u) => [u.name, u]));
  const ready = active.filter((u) => pending.get(u.name) === 0).sort(cmp);
  const order: SchedulerUnit[] = [];
  while (ready.length > 0) {
    const u = ready.shift() as SchedulerUnit;
    order.push(u);
    for (const next of before.get(u.name) ?? []) {
      const left = (pending.get(next) as number) - 1;
      pending.set(next, left);
      if (left === 0) insertSorted(ready, byName.get(next) as SchedulerUnit, cmp);
    }
  }
  if (order.length < active.length) {
    const done = new Set(order.map((u) => u.name));
    order.push(...active.filter((u) => !done.has(u.name)).sort(cmp));
  }
  return order;
}

function insertSorted<T>(list: T[], item: T, cmp: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(list[mid] as T, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

function diff(
  snapshot: ClusterSnapshot,
  placements: Readonly<Record<string, readonly string[]>>,
  machineById: ReadonlyMap<string, SchedulerMachine>,
  dropped: ReadonlyMap<string, string>,
): ScheduleChange[] {
  const units = new Map(snapshot.units.map((u) => [u.name, u]));
  const unschedules: ScheduleChange[] = [];
  const schedules: ScheduleChange[] = [];
  const names = [...new Set([...Object.keys(snapshot.schedule), ...Object.keys(placements)])].sort(
    compare,
  );
  for (const name of names) {
    const before = new Set(snapshot.schedule[name] ?? []);
    const after = new Set(placements[name] ?? []);
    const unit = units.get(name);
    for (const machine of [...before].sort(compare)) {
      if (after.has(machine)) continue;
      const reason =
        unit === undefined
          ? "unit destroyed"
          : unit.desiredState === "inactive"
            ? "desired state is inactive"
            : !machineById.has(machine)
              ? `machine ${machine} is gone`
              : (dropped.get(`${name}\u0000${machine}`) ??
                "a unit that is not global runs on one machine");
      unschedules.push({ type: "unschedule", unit: name, machine, reason });
    }
    for (const machine of [...after].sort(compare)) {
      if (before.has(machine)) continue;
      const reason = unit?.requirements.global
        ? "global unit: this machine is eligible"
        : "least-loaded eligible machine";
      schedules.push({ type: "schedule", unit: name, machine, reason });
    }
  }
  return [...unschedules, ...schedules];
}
