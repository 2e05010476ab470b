/**
 * @module units/scheduler
 * The pure scheduler: `planSchedule(snapshot)` decides where every unit runs.
 * See docs/scheduling.md.
 */
export {
  CHECKERS,
  type Checker,
  GLOBAL_CHECKERS,
  type Rejection,
  type RejectionCode,
  rejection,
} from "./feasibility.js";
export { planSchedule } from "./plan.js";
export { summarize } from "./reasons.js";
export type {
  ClusterSnapshot,
  ScheduleChange,
  SchedulePlan,
  SchedulerMachine,
  SchedulerUnit,
} from "./snapshot.js";
