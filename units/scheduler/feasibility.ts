/**
 * @module units/scheduler/feasibility
 * Where a unit may run: one checker per `[X-Fleet]` rule (Nomad's feasibility checkers,
 * Kubernetes' filter plugins). A checker looks at one unit and one machine in the current
 * state of the pass and either accepts or returns a rejection that says why, grouped by
 * `key` so that "why not anywhere" can be summed up over all machines.
 */
import { globMatches } from "../glob.js";
import { matchesMachineId, missingMetadata } from "../machine-metadata.js";
import type { ClusterState } from "./cluster-state.js";
import type { SchedulerMachine, SchedulerUnit } from "./snapshot.js";

export type RejectionCode =
  | "machine-id"
  | "metadata"
  | "machine-of"
  | "conflicts"
  | "conflicted-by"
  | "replaced-by";

export interface Rejection {
  readonly code: RejectionCode;
  /** The same for every machine rejected for the same cause: "lack region=eu". */
  readonly key: string;
  /** The unit(s) on this machine that caused it, if any. */
  readonly units?: readonly string[];
}

export type Checker = (
  unit: SchedulerUnit,
  machine: SchedulerMachine,
  state: ClusterState,
) => Rejection | undefined;

const machineId: Checker = (unit, machine) => {
  const want = unit.requirements.machineId;
  if (want === undefined || matchesMachineId(machine.id, want)) return undefined;
  return { code: "machine-id", key: `MachineID=${want}` };
};

const metadata: Checker = (unit, machine) => {
  const missing = missingMetadata(machine.metadata, unit.requirements.metadata);
  return missing.length === 0 ? undefined : { code: "metadata", key: missing.join(", ") };
};

const machineOf: Checker = (unit, machine, state) => {
  for (const peer of unit.requirements.peers) {
    if (!state.machinesOf(peer).has(machine.id)) {
      return { code: "machine-of", key: `MachineOf=${peer}` };
    }
  }
  return undefined;
};

/** This unit's Conflicts globs against the units on the machine. */
const conflicts: Checker = (unit, machine, state) => {
  const mine = state.conflictsWith.get(unit.name);
  if (mine === undefined) return undefined;
  const here = [...(state.hosted.get(machine.id) ?? [])].filter((u) => mine.has(u)).sort();
  if (here.length === 0) return undefined;
  const pattern = unit.requirements.conflicts.find((p) => here.some((u) => globMatches(p, u)));
  return { code: "conflicts", key: `Conflicts=${pattern}`, units: here };
};

/** The Conflicts globs of the units on the machine against this unit: conflicts go both ways. */
const conflictedBy: Checker = (unit, machine, state) => {
  const theirs = state.conflictedBy.get(unit.name);
  if (theirs === undefined) return undefined;
  const here = [...(state.hosted.get(machine.id) ?? [])].filter((u) => theirs.has(u)).sort();
  if (here.length === 0) return undefined;
  return { code: "conflicted-by", key: `the Conflicts= of ${here[0]}`, units: here };
};

/** A unit never runs next to a unit that Replaces it: the replacing one keeps the machine. */
const replacedBy: Checker = (unit, machine, state) => {
  const by = state.replacedBy.get(unit.name);
  if (by === undefined) return undefined;
  const here = [...(state.hosted.get(machine.id) ?? [])].filter((u) => by.has(u)).sort();
  if (here.length === 0) return undefined;
  return { code: "replaced-by", key: `Replaces= of ${here[0]}`, units: here };
};

/** Cheapest and most selective first. */
export const CHECKERS: readonly Checker[] = [
  machineId,
  metadata,
  machineOf,
  conflicts,
  conflictedBy,
  replacedBy,
];

/**
 * A global unit runs wherever its metadata and Conflicts allow (fleet ignored its other
 * rules), except next to a unit that Replaces it.
 */
export const GLOBAL_CHECKERS: readonly Checker[] = [metadata, conflicts, conflictedBy, replacedBy];

export function checkersFor(unit: SchedulerUnit): readonly Checker[] {
  return unit.requirements.global ? GLOBAL_CHECKERS : CHECKERS;
}

/** The first rule that keeps `unit` off `machine`, or undefined if it may run there. */
export function rejection(
  unit: SchedulerUnit,
  machine: SchedulerMachine,
  state: ClusterState,
): Rejection | undefined {
  for (const check of checkersFor(unit)) {
    const r = check(unit, machine, state);
    if (r !== undefined) return r;
  }
  return undefined;
}
