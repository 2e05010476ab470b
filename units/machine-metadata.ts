/**
 * @module units/machine-metadata
 * Matching machines against what a unit requires of them: `MachineID=` (full ID, or exactly
 * the 8-character short ID fleetctl prints) and `MachineMetadata=` (fleet's
 * machine.HasMetadata: every required key present, with one of its accepted values).
 */

/** How many characters fleetctl shows of a machine ID. */
export const SHORT_ID_LENGTH = 8;

export function shortMachineId(id: string): string {
  return id.length <= SHORT_ID_LENGTH ? id : id.slice(0, SHORT_ID_LENGTH);
}

/** fleet's MachineState.MatchID: case-sensitive, full ID or exactly the short ID. */
export function matchesMachineId(machineId: string, wanted: string): boolean {
  return machineId === wanted || shortMachineId(machineId) === wanted;
}

/**
 * Values of one key are alternatives (OR); keys must all match (AND); values are
 * case-sensitive. An empty requirement matches every machine.
 */
export function hasMetadata(
  machine: Readonly<Record<string, string>>,
  required: Readonly<Record<string, readonly string[]>>,
): boolean {
  for (const [key, accepted] of Object.entries(required)) {
    if (!Object.hasOwn(machine, key)) return false;
    if (!accepted.includes(machine[key] as string)) return false;
  }
  return true;
}

/** The required keys a machine fails, for "why not here" messages: `region=eu|us`. */
export function missingMetadata(
  machine: Readonly<Record<string, string>>,
  required: Readonly<Record<string, readonly string[]>>,
): string[] {
  return Object.entries(required)
    .filter(
      ([key, accepted]) =>
        !Object.hasOwn(machine, key) || !accepted.includes(machine[key] as string),
    )
    .map(([key, accepted]) => `${key}=${accepted.join("|")}`);
}
