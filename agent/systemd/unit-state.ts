/**
 * @module agent/systemd/unit-state
 * What systemd says about a unit, as fleet published it (load, active and sub state), and the
 * results a job can end with.
 */

export interface UnitStatus {
  readonly name: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly description: string;
}

export type JobResult = "done" | "canceled" | "timeout" | "failed" | "dependency" | "skipped";

export interface JobRemoved {
  readonly id: number;
  readonly job: string;
  readonly unit: string;
  readonly result: JobResult | string;
}

/** A change of a unit's states (from PropertiesChanged); a field is absent if it did not change. */
export interface UnitStateChange {
  readonly name: string;
  readonly loadState?: string;
  readonly activeState?: string;
  readonly subState?: string;
}
