/**
 * @module units/scheduler/feasibility
 * Where a unit may run: one checker per `[X-Fleet]` rule (Nomad's feasibility checkers,
 * Kubernetes' filter plugins). A checker looks at one unit and one machine in the current
 * state of the pass and either accepts or returns a rejection that says why, grouped by
 * `key` so that "why not anywhere" can be summed up over all machines.
 *
 * The checks run for every (unit, machine) pair a decision looks at, so each must be O(1):
 * `prepare` computes, once per decision, which machines host the units this one conflicts
 * with, is conflicted by, or is replaced by.
 */
import { matchesMachineId, missingMetadata } from "../machine-metadata.js";
import type { ClusterState } from "./cluster-state.js";
import type { SchedulerMachine, SchedulerUnit } from "./snapshot.js";

export type RejectionCode =
  | "machine-id"
  | "metadata"
  | "machine-of"
  | "conflicts"
  | "conflicted-by"
  | "replaced-by"
  | "draining";

export interface Rejection {
  readonly code: RejectionCode;
  /** The same for every machine rejected for the same cause: "region=eu". */
  readonly key: string;
  /** The unit(s) on this machine that caused it, if any. */
  readonly units?: readonly string[];
}

/** What one decision about `unit` needs to know, computed once. */
export interface DecisionContext {
  readonly unit: SchedulerUnit;
  /** machine → units there that this unit's Conflicts globs match. */
  readonly conflicting: ReadonlyMap<string, readonly string[]>;
  /** machine → units there whose Conflicts globs match this unit. */
  readonly conflictedBy: ReadonlyMap<string, readonly string[]>;
  /** machine → units there that Replace this unit. */
  readonly replacedBy: ReadonlyMap<string, readonly string[]>;
}

function machinesOfAll(
  names: ReadonlySet<string> | undefined,
  state: ClusterState,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of names ?? []) {
    for (const m of state.machinesOf(name)) {
      const list = out.get(m);
      if (list === undefined) out.set(m, [name]);
      else list.push(name);
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}

export function prepare(unit: SchedulerUnit, state: ClusterState): DecisionContext {
  return {
    unit,
    conflicting: machinesOfAll(state.conflictsWith.get(unit.name), state),
    conflictedBy: machinesOfAll(state.conflictedBy.get(unit.name), state),
    replacedBy: machinesOfAll(state.replacedBy.get(unit.name), state),
  };
}

export type Checker = (
  ctx: DecisionContext,
  machine: SchedulerMachine,
  state: ClusterState,
) => Rejection | undefined;

const machineId: Checker = ({ unit }, machine) => {
  const want = unit.requirements.machineId;
  if (want === undefined || matchesMachineId(machine.id, want)) return undefined;
  return { code: "machine-id", key: `MachineID=${want}` };
};

const metadata: Checker = ({ unit }, machine) => {
  const missing = missingMetadata(machine.metadata, unit.requirements.metadata);
  return missing.length === 0 ? undefined : { code: "metadata", key: missing.join(", ") };
};

const machineOf: Checker = ({ unit }, machine, state) => {
  for (const peer of unit.requirements.peers) {
    if (!state.machinesOf(peer).has(machine.id)) {
      return { code: "machine-of", key: `MachineOf=${peer}` };
    }
  }
  return undefined;
};

/** This unit's Conflicts globs against the units on the machine. */
const conflicts: Checker = ({ unit, conflicting }, machine) => {
  const here = conflicting.get(machine.id);
  if (here === undefined) return undefined;
  const patterns = unit.requirements.conflicts.join(" ");
  return { code: "conflicts", key: `Conflicts=${patterns}`, units: here };
};

/** The Conflicts globs of the units on the machine against this unit: conflicts go both ways. */
const conflictedBy: Checker = ({ conflictedBy }, machine) => {
  const here = conflictedBy.get(machine.id);
  if (here === undefined) return undefined;
  return { code: "conflicted-by", key: `the Conflicts= of ${here[0]}`, units: here };
};

/** A unit never runs next to a unit that Replaces it: the replacing one keeps the machine. */
const replacedBy: Checker = ({ replacedBy }, machine) => {
  const here = replacedBy.get(machine.id);
  if (here === undefined) return undefined;
  return { code: "replaced-by", key: `Replaces= of ${here[0]}`, units: here };
};

/**
 * A draining machine keeps only its global units (like a DaemonSet on a drained Kubernetes
 * node). Checked last, so a machine is called draining only when nothing else excludes it.
 */
const draining: Checker = (_ctx, machine) =>
  machine.draining === true ? { code: "draining", key: "draining" } : undefined;

/** Cheapest and most selective first; draining last (see above). */
export const CHECKERS: readonly Checker[] = [
  machineId,
  metadata,
  machineOf,
  conflicts,
  conflictedBy,
  replacedBy,
  draining,
];

/**
 * A global unit runs wherever its metadata and Conflicts allow (fleet ignored its other
 * rules), except next to a unit that Replaces it.
 */
export const GLOBAL_CHECKERS: readonly Checker[] = [metadata, conflicts, conflictedBy, replacedBy];

export function checkersFor(unit: SchedulerUnit): readonly Checker[] {
  return unit.requirements.global ? GLOBAL_CHECKERS : CHECKERS;
}

/** The first rule that keeps the unit off `machine`, or undefined if it may run there. */
export function rejection(
  ctx: DecisionContext,
  machine: SchedulerMachine,
  state: ClusterState,
): Rejection | undefined {
  for (const check of checkersFor(ctx.unit)) {
    const r = check(ctx, machine, state);
    if (r !== undefined) return r;
  }
  return undefined;
}
