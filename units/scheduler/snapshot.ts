/**
 * @module units/scheduler/snapshot
 * What the scheduler decides from, and what it decides: plain data, so the decision is a pure
 * function the engine calls with a snapshot read from etcd and tests call with literals.
 */
import type { DesiredState } from "../desired-state.js";
import type { UnitRequirements } from "../requirements.js";

export interface SchedulerMachine {
  readonly id: string;
  /** Effective metadata (configured, with the API's changes merged). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Being drained: no unit that is not global may stay or be placed there. */
  readonly draining?: boolean;
}

export interface SchedulerUnit {
  readonly name: string;
  readonly desiredState: DesiredState;
  readonly requirements: UnitRequirements;
}

export interface ClusterSnapshot {
  /** Live machines (their lease is alive). */
  readonly machines: readonly SchedulerMachine[];
  readonly units: readonly SchedulerUnit[];
  /** Current placements: unit → machines (one, or several for a global unit). */
  readonly schedule: Readonly<Record<string, readonly string[]>>;
}

export type ScheduleChange =
  | {
      readonly type: "schedule";
      readonly unit: string;
      readonly machine: string;
      readonly reason: string;
    }
  | {
      readonly type: "unschedule";
      readonly unit: string;
      readonly machine: string;
      readonly reason: string;
    };

export interface SchedulePlan {
  /** Where every unit should be after this pass (units placed nowhere are absent). */
  readonly placements: Readonly<Record<string, readonly string[]>>;
  /** The difference from the snapshot's schedule, unschedules first. */
  readonly changes: readonly ScheduleChange[];
  /** Why each active unit that is placed nowhere could not be placed. */
  readonly unschedulable: Readonly<Record<string, string>>;
}
