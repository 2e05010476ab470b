/**
 * @module agent/registry
 * fleet-ts's cluster state in etcd v3. See docs/architecture.md for the key layout.
 */
export * from "./codecs.js";
export { DrainStore } from "./drain.js";
export * from "./errors.js";
export { KeyLayout, prefixEnd } from "./keys.js";
export { type Compare, EtcdKV, MAX_TXN_OPS, type Op, type StoredKV } from "./kv.js";
export { LeaseKeeper } from "./leases.js";
export {
  MachinePresence,
  MachineStore,
  type MachineView,
  type MetadataPatch,
  mergeMetadata,
} from "./machines.js";
export { Registry, type RegistryOptions } from "./registry.js";
export {
  type ApplyResult,
  type ClusterState,
  type ScheduleChange,
  type ScheduledUnit,
  ScheduleStore,
} from "./schedule.js";
export { StateStore, type UnitStateView } from "./states.js";
export type { Listing, Stored } from "./stored.js";
export { UnitStore } from "./units.js";
export { PrefixWatch, type PrefixWatchHandlers, type WatchEvent } from "./watch.js";
