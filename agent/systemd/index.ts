/**
 * @module agent/systemd
 * The agent's side of systemd: a D-Bus client and the placement of unit files.
 */
export {
  defaultBusAddress,
  SystemdClient,
  type SystemdClientOptions,
  type SystemdEvents,
  type UnitFileChange,
} from "./client.js";
export { isNoSuchUnit, SystemdError, SystemdUnavailableError } from "./errors.js";
export { unitNameFromPath, unitObjectPath } from "./object-path.js";
export { hasInstallSection, UnitFileStore, type UnitFileStoreOptions } from "./unit-files.js";
export type { JobRemoved, JobResult, UnitStateChange, UnitStatus } from "./unit-state.js";
