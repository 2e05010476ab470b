/**
 * @module agent/config
 * fleetd's configuration: fleet.conf, FLEET_* variables and flags.
 */
export { parseGoDuration } from "./duration.js";
export { ConfigError, type ConfigSource, describeSource } from "./errors.js";
export {
  DEFAULT_CONFIG_FILE,
  envVariableFor,
  type LoadConfigInput,
  type LoadedConfig,
  loadConfig,
} from "./load.js";
export { formatMetadata, parseMetadata } from "./metadata.js";
export {
  configSchema,
  type FleetConfig,
  OPTION_NAMES,
  OPTIONS,
  type OptionName,
} from "./schema.js";
