/**
 * @module fleet-ts/units
 * fleet's unit-file vocabulary as a library: parse, serialize and hash unit files exactly as
 * fleet did, take unit names apart, read `[X-Fleet]` requirements, validate what fleet's API
 * validated, and match machines. Pure: no I/O, no dependency on the rest of fleet-ts.
 *
 * @example
 * import { parseUnitFile, unitHash, unitRequirements } from "fleet-ts/units";
 * const { options } = parseUnitFile(text);
 * unitHash(options).slice(0, 7);                 // fleetctl's HASH column
 * unitRequirements("web@1.service", options);    // { machineId, metadata, conflicts, ... }
 */
export {
  COMMANDS,
  type CurrentState,
  CurrentStateSchema,
  commandTarget,
  DESIRED_STATES,
  type DesiredState,
  DesiredStateSchema,
  desiredStateProblem,
  isDirectTransition,
  type Lifecycle,
  TransitionError,
  transitionSteps,
  type UnitCommand,
} from "./desired-state.js";
export { UnitsError } from "./errors.js";
export { globMatches, isGlobPattern, isValidGlob } from "./glob.js";
export { goFields, goTrimSpace } from "./go-strings.js";
export {
  hasMetadata,
  matchesMachineId,
  missingMetadata,
  SHORT_ID_LENGTH,
  shortMachineId,
} from "./machine-metadata.js";
export {
  isTruthy,
  parseMultivalueLine,
  REQUIREMENT_KEYS,
  RequirementsError,
  requirementsProblem,
  requirementValues,
  requirementWarnings,
  type UnitRequirements,
  unitRequirements,
  unknownXFleetKeys,
  validateRequirements,
  X_FLEET,
} from "./requirements.js";
export { expandSpecifiers } from "./specifiers.js";
export {
  canonicalOptions,
  MAX_LINE_BYTES,
  parseUnitFile,
  serializeUnitFile,
  shortHash,
  type UnitFile,
  UnitFileParseError,
  unitDescription,
  unitHash,
} from "./unit-file.js";
export {
  assertValidUnitName,
  hasUnitType,
  instanceName,
  isValidUnitName,
  mangleUnitName,
  TEMPLATE_TYPES,
  UNIT_NAME_MAX,
  UNIT_TYPES,
  UnitNameError,
  type UnitNameInfo,
  unitNameInfo,
  unitNameProblem,
} from "./unit-name.js";
export type { UnitOption } from "./unit-option.js";
export { unitOptionsProblem, unitProblem } from "./validate.js";
