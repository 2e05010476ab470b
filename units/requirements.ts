/**
 * @module units/requirements
 * What a unit's `[X-Fleet]` section requires of the machine it runs on, read exactly as fleet's
 * job.Job did: values split as multivalue lines, `%n %N %p %i` expanded with the unit's name,
 * the deprecated `X-Condition*` and `X-Conflicts` names honoured. The scheduler reads the
 * typed `UnitRequirements`; the API validates with `requirementsProblem`.
 */
import { UnitsError } from "./errors.js";
import { globMatches } from "./glob.js";
import { goFields } from "./go-strings.js";
import { expandSpecifiers } from "./specifiers.js";
import { unitNameInfo } from "./unit-name.js";
import type { UnitOption } from "./unit-option.js";

export class RequirementsError extends UnitsError {
  override name = "RequirementsError";
}

export const X_FLEET = "X-Fleet";

/** The `[X-Fleet]` keys fleet knows; anything else is ignored with a warning. */
export const REQUIREMENT_KEYS = [
  "MachineID",
  "X-ConditionMachineID",
  "X-ConditionMachineBootID",
  "X-ConditionMachineOf",
  "MachineOf",
  "X-Conflicts",
  "Conflicts",
  "X-ConditionMachineMetadata",
  "MachineMetadata",
  "Global",
  "Replaces",
] as const;

export interface UnitRequirements {
  /** MachineID / X-ConditionMachineID / X-ConditionMachineBootID; undefined = not set; "" = set empty (unschedulable) */
  readonly machineId: string | undefined;
  /** MachineMetadata: key -> accepted values (OR within a key, AND across keys), sorted */
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  /** Conflicts + X-Conflicts globs, expanded */
  readonly conflicts: readonly string[];
  /** MachineOf + X-ConditionMachineOf peers */
  readonly peers: readonly string[];
  readonly replaces: readonly string[];
  readonly global: boolean;
}

/**
 * fleet's parseMultivalueLine: a value that starts and ends with `"` is a list; each `"`
 * toggles quoting and is dropped, and a single space outside quotes ends an element.
 * Any other value is one element, verbatim.
 */
export function parseMultivalueLine(line: string): string[] {
  if (!line.startsWith('"') || !line.endsWith('"')) return [line];
  const values: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      continue;
    }
    if (ch === " " && !quoted) {
      values.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  values.push(current);
  return values;
}

/**
 * `[X-Fleet]` key → every value, multivalue-split, in file order (fleet's
 * `UnitFile.Contents["X-Fleet"]`), with specifiers expanded when `name` has a type (a
 * nameless view, as fleet's API validated, expands nothing).
 */
export function requirementValues(
  name: string | undefined,
  options: readonly UnitOption[],
): Map<string, string[]> {
  const info = name === undefined ? undefined : unitNameInfo(name);
  const values = new Map<string, string[]>();
  for (const opt of options) {
    if (opt.section !== X_FLEET) continue;
    let list = values.get(opt.name);
    if (list === undefined) {
      list = [];
      values.set(opt.name, list);
    }
    for (const v of parseMultivalueLine(opt.value)) {
      list.push(info === undefined ? v : expandSpecifiers(v, info));
    }
  }
  return values;
}

const TRUTHY = new Set(["true", "yes", "1", "on", "t"]);

/** fleet's isTruthyValue, for `Global=`. */
export function isTruthy(value: string): boolean {
  return TRUTHY.has(value.toLowerCase());
}

/** Go's string order (bytes of UTF-8, i.e. code points), not JavaScript's UTF-16 order. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function fromValues(values: Map<string, string[]>): UnitRequirements {
  const get = (k: string) => values.get(k) ?? [];
  const firstOf = (k: string) => (values.has(k) && get(k).length > 0 ? get(k)[0] : undefined);
  const machineId =
    firstOf("MachineID") ?? firstOf("X-ConditionMachineID") ?? firstOf("X-ConditionMachineBootID");

  // A Map, not an object: a key such as `constructor` or `__proto__` is just a key.
  const metadata = new Map<string, Set<string>>();
  for (const key of ["X-ConditionMachineMetadata", "MachineMetadata"]) {
    for (const pair of get(key)) {
      const parts = pair.split("=");
      if (parts.length !== 2) continue;
      const [k, v] = parts as [string, string];
      if (k.length === 0 || v.length === 0) continue;
      let set = metadata.get(k);
      if (set === undefined) {
        set = new Set();
        metadata.set(k, set);
      }
      set.add(v);
    }
  }
  const globals = get("Global");
  const last = globals[globals.length - 1];
  return {
    machineId,
    metadata: Object.fromEntries([...metadata].map(([k, set]) => [k, [...set].sort(byCodePoint)])),
    // Only Conflicts is whitespace-split (fleet's splitCombine); MachineOf and Replaces are not.
    conflicts: [...get("X-Conflicts"), ...get("Conflicts")].flatMap(goFields),
    peers: [...get("X-ConditionMachineOf"), ...get("MachineOf")],
    replaces: get("Replaces"),
    global: last !== undefined && isTruthy(last),
  };
}

/** The requirements of unit `name` (specifiers expanded with it). */
export function unitRequirements(name: string, options: readonly UnitOption[]): UnitRequirements {
  return fromValues(requirementValues(name, options));
}

/** `[X-Fleet]` keys fleet does not know (fleetctl warned and went on). */
export function unknownXFleetKeys(options: readonly UnitOption[]): string[] {
  const known = new Set<string>(REQUIREMENT_KEYS);
  return unique(
    options.filter((o) => o.section === X_FLEET && !known.has(o.name)).map((o) => o.name),
  );
}

/**
 * An unquoted `MachineMetadata=region=eu disk=ssd` is one value with two "=", which fleet
 * silently ignored, so the unit ran anywhere. fleet-ts refuses it and shows the quoted form.
 */
function unquotedMetadataProblem(options: readonly UnitOption[]): string | undefined {
  for (const opt of options) {
    if (opt.section !== X_FLEET) continue;
    if (opt.name !== "MachineMetadata" && opt.name !== "X-ConditionMachineMetadata") continue;
    for (const value of parseMultivalueLine(opt.value)) {
      const tokens = goFields(value);
      if (tokens.length > 1 && tokens.filter((t) => t.includes("=")).length > 1) {
        const quoted = tokens.map((t) => `"${t.replaceAll('"', "")}"`).join(" ");
        return `${opt.name}=${value} holds several key=value pairs without quotes, which fleet ignored (the unit would run on any machine); write ${opt.name}=${quoted}`;
      }
    }
  }
  return undefined;
}

/**
 * Why these `[X-Fleet]` requirements can never be satisfied or contradict each other, or
 * undefined. The same verdicts as fleet's api.ValidateOptions, which looked at the values
 * as written (no specifier expansion), plus the unquoted-MachineMetadata check.
 */
export function requirementsProblem(options: readonly UnitOption[]): string | undefined {
  const values = requirementValues(undefined, options);
  const r = fromValues(values);
  const conflicts = unique(r.conflicts);
  const replaces = unique(r.replaces);
  const peers = unique(r.peers);
  for (const peer of peers) {
    for (const conflict of conflicts) {
      if (globMatches(conflict, peer)) {
        return `unresolvable requirements: MachineOf=${peer} must run with a unit that Conflicts=${conflict} forbids; remove one of them`;
      }
    }
    for (const replace of replaces) {
      if (globMatches(replace, peer)) {
        return `unresolvable requirements: MachineOf=${peer} must run with the unit it Replaces=${replace}; remove one of them`;
      }
    }
  }
  // Name the options as the user wrote them (a deprecated X-Condition* name included).
  // (An empty Conflicts= adds no glob; any other value, even empty, counts.)
  const counts = (key: string, v: string) => !key.endsWith("Conflicts") || goFields(v).length > 0;
  const writtenAs = (keys: readonly string[], fallback: string) =>
    keys.find((k) => (values.get(k) ?? []).some((v) => counts(k, v))) ?? fallback;
  const id = writtenAs(
    ["MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID"],
    "MachineID",
  );
  const peer = writtenAs(["X-ConditionMachineOf", "MachineOf"], "MachineOf");
  const conflict = writtenAs(["X-Conflicts", "Conflicts"], "Conflicts");
  const pinned = "it already pins the unit to one machine";
  const everywhere = "a Global unit runs on every machine";
  const both = (a: string, b: string, why: string) =>
    `${a} cannot be used with ${b}: ${why}; remove one of them`;
  const hasTarget = r.machineId !== undefined;
  if (hasTarget && peers.length > 0) return both(id, peer, pinned);
  if (hasTarget && conflicts.length > 0) return both(id, conflict, pinned);
  if (hasTarget && r.global) return both(id, "Global", everywhere);
  if (hasTarget && replaces.length > 0) return both(id, "Replaces", pinned);
  if (r.global && peers.length > 0) return both("Global", peer, everywhere);
  if (r.global && replaces.length > 0) return both("Global", "Replaces", everywhere);
  if (conflicts.length > 0 && replaces.length > 0) {
    return both(conflict, "Replaces", "fleet never supported both on one unit");
  }
  return unquotedMetadataProblem(options);
}

/**
 * fleet's api.ValidateOptions verdict on the `[X-Fleet]` section, as an exception: returns
 * nothing when the requirements can be met, throws otherwise. Like fleet it reports only the
 * first problem, checked in fleet's order (MachineOf against Conflicts/Replaces globs, then
 * the combinations), and, unlike fleet, also refuses an unquoted multi-pair MachineMetadata.
 * `requirementsProblem` gives the same answer as a value.
 * @throws RequirementsError whose message names the options and says which to change.
 */
export function validateRequirements(options: readonly UnitOption[]): void {
  const problem = requirementsProblem(options);
  if (problem !== undefined) throw new RequirementsError(problem);
}

/** Things fleet ignored silently that the user should hear about (fleetctl prints them). */
export function requirementWarnings(options: readonly UnitOption[]): string[] {
  const warnings = unknownXFleetKeys(options).map(
    (k) =>
      `unrecognized requirement in [X-Fleet] section: ${JSON.stringify(k)} (ignored; known keys: ${REQUIREMENT_KEYS.filter((x) => !x.startsWith("X-")).join(", ")})`,
  );
  for (const opt of options) {
    if (
      opt.section !== X_FLEET ||
      (opt.name !== "MachineMetadata" && opt.name !== "X-ConditionMachineMetadata")
    )
      continue;
    for (const pair of parseMultivalueLine(opt.value)) {
      const parts = pair.split("=");
      if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
        warnings.push(`${opt.name}=${pair} is not key=value and is ignored`);
      }
    }
  }
  return warnings;
}
