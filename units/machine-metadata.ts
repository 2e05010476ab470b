/**
 * @module units/machine-metadata
 * Matching machines against what a unit requires of them: `MachineID=` (full ID, or exactly
 * the 8-character short ID fleetctl prints) and `MachineMetadata=` (fleet's
 * machine.HasMetadata: every required key present, with one of its accepted values).
 * Conflicts globs are matched by units/glob (Go's path.Match).
 */

/** How many bytes of a machine ID fleetctl shows (and `MachineID=` may give instead of all). */
export const SHORT_ID_LENGTH = 8;

const utf8 = new TextEncoder();
/** Only characters below U+0080, i.e. one byte each in UTF-8. */
const ASCII = /^[^\u0080-\uffff]*$/;

/**
 * The ID fleetctl prints: its first 8 bytes (fleet's MachineState.ShortID). Machine IDs are
 * hex, so that is 8 characters; a non-ASCII ID is cut at the last whole character instead of
 * mid-character.
 */
export function shortMachineId(id: string): string {
  if (ASCII.test(id)) return id.slice(0, SHORT_ID_LENGTH);
  if (utf8.encode(id).length <= SHORT_ID_LENGTH) return id;
  let short = "";
  let bytes = 0;
  for (const ch of id) {
    bytes += utf8.encode(ch).length;
    if (bytes > SHORT_ID_LENGTH) break;
    short += ch;
  }
  return short;
}

/**
 * fleet's MachineState.MatchID: `wanted` is the full ID or exactly its first 8 bytes;
 * case-sensitive. (A prefix cut mid-character matched nothing in fleet, and matches nothing
 * here, because the bytes are compared.)
 */
export function matchesMachineId(machineId: string, wanted: string): boolean {
  if (machineId === wanted) return true;
  // Hex IDs: 8 ASCII characters are 8 bytes, no encoding needed (the scheduler calls this a lot).
  if (ASCII.test(wanted)) return wanted.length === SHORT_ID_LENGTH && machineId.startsWith(wanted);
  const id = utf8.encode(machineId);
  if (id.length <= SHORT_ID_LENGTH) return false;
  const w = utf8.encode(wanted);
  return w.length === SHORT_ID_LENGTH && w.every((b, i) => b === id[i]);
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
