import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UnitsError } from "./errors.js";
import {
  isTruthy,
  parseMultivalueLine,
  REQUIREMENT_KEYS,
  RequirementsError,
  requirementsProblem,
  requirementValues,
  requirementWarnings,
  unitRequirements,
  unknownXFleetKeys,
  validateRequirements,
} from "./requirements.js";
import { parseUnitFile } from "./unit-file.js";
import { unitNameInfo, unitNameProblem } from "./unit-name.js";
import type { UnitOption } from "./unit-option.js";
import { unitOptionsProblem, unitProblem } from "./validate.js";

const fixture = (f: string) =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${f}`, import.meta.url), "utf8"));

interface Accessors {
  requirements: Record<string, string[]>;
  peers: string[];
  conflicts: string[];
  replaces: string[];
  required_target: { machine_id: string; ok: boolean };
  required_metadata: Record<string, string[]>;
  is_global: boolean;
}
interface ReqCase extends Accessors {
  id: string;
  name: string;
  unit: string;
  parse_error?: string;
  name_info: Record<string, string> | null;
  unexpanded_view?: Accessors;
  validate_requirements_warning: string | null;
  validate_requirements_warning_alternatives?: string[];
  api_validate_options_error: string | null;
  api_validate_options_error_alternatives?: string[];
  api_validate_name_error: string | null;
}
const req = fixture("requirements.json") as {
  cases: ReqCase[];
  truthy_values: Record<string, boolean>;
};

/**
 * Where fleet-ts deliberately differs from fleet (test/fixtures/VECTORS-README.md, policy #7).
 * fleet read an unquoted `MachineMetadata=a=x b=y` as one pair with two "=", dropped it
 * silently and ran the unit on any machine; fleet-ts refuses it and shows the quoted form.
 *
 * | case | input | fleet | fleet-ts |
 * |---|---|---|---|
 * | r039 (requirements.json) | `MachineMetadata=region=us-east disk=ssd` | accepted, no constraint | refused: write `MachineMetadata="region=us-east" "disk=ssd"` |
 * | h037 (units.json) | `MachineMetadata="a=1"<TAB>"b=2"` (a tab is not a separator) | accepted, no constraint | refused: write `MachineMetadata="a=1" "b=2"` |
 *
 * Extraction (`unitRequirements`) still gives fleet's answer for them (no metadata): only
 * validation differs, so a unit already stored by fleet is read the same way.
 */
const VALIDATION_DIFFERENCES: Readonly<Record<string, RegExp>> = {
  r039: /^MachineMetadata=region=us-east disk=ssd holds several key=value pairs without quotes.*; write MachineMetadata="region=us-east" "disk=ssd"$/,
  h037: /write MachineMetadata="a=1" "b=2"$/,
};

/** Which of fleet's checks fired, from fleet's message or ours (the wording differs). */
function verdictKind(message: string): string {
  const canonical: Record<string, string> = {
    Peers: "MachineOf",
    "X-ConditionMachineOf": "MachineOf",
    "X-ConditionMachineID": "MachineID",
    "X-ConditionMachineBootID": "MachineID",
    "X-Conflicts": "Conflicts",
  };
  const pair = /^(\S+) cannot be used with (\S+?):?(?: |$)/.exec(message);
  if (pair) return [pair[1], pair[2]].map((k) => canonical[k as string] ?? k).join("+");
  const fleetGlob =
    /^unresolvable requirements: peer (".*") matches (conflict|replace) (".*")$/.exec(message);
  if (fleetGlob) {
    const [, peer, kind, glob] = fleetGlob as unknown as [string, string, string, string];
    return `${kind}:${JSON.parse(peer)}~${JSON.parse(glob)}`;
  }
  const ours =
    /^unresolvable requirements: MachineOf=(.*) must run with (?:a unit that Conflicts=(.*) forbids|the unit it Replaces=(.*));/.exec(
      message,
    );
  if (ours) {
    return ours[2] !== undefined
      ? `conflict:${ours[1]}~${ours[2]}`
      : `replace:${ours[1]}~${ours[3]}`;
  }
  return `other: ${message}`;
}

const sorted = (a: readonly string[]) => [...a].sort();
const parsed = req.cases.filter((c) => c.parse_error === undefined);

function accessors(name: string | undefined, options: readonly UnitOption[]): Accessors {
  // The nameless view is fleet's API's: a job without a name expands no specifier.
  const r = unitRequirements(name ?? "", options);
  return {
    requirements: Object.fromEntries(requirementValues(name, options)),
    peers: [...r.peers],
    conflicts: [...r.conflicts],
    replaces: [...r.replaces],
    required_target: { machine_id: r.machineId ?? "", ok: r.machineId !== undefined },
    required_metadata: Object.fromEntries(Object.entries(r.metadata).map(([k, v]) => [k, [...v]])),
    is_global: r.global,
  };
}

describe("requirements.json: fleet's own answers", () => {
  it.each(req.cases.filter((c) => c.parse_error !== undefined))(
    "$id: fleet could not parse it, and neither can we",
    (c) => {
      expect(() => parseUnitFile(c.unit)).toThrow(UnitsError);
    },
  );
  it.each(parsed)("$id: what $name requires", (c) => {
    const options = parseUnitFile(c.unit).options;
    const got = accessors(c.name, options);
    // Metadata values are a set in fleet; the fixture lists them sorted, and so do we.
    expect(got).toEqual({
      requirements: c.requirements,
      peers: c.peers,
      conflicts: c.conflicts,
      replaces: c.replaces,
      required_target: c.required_target,
      required_metadata: c.required_metadata,
      is_global: c.is_global,
    });
  });
  it.each(parsed)("$id: as fleet's API saw it (no name, no expansion)", (c) => {
    const expected = c.unexpanded_view ?? c;
    const got = accessors(undefined, parseUnitFile(c.unit).options);
    expect(got.requirements).toEqual(expected.requirements);
    expect(got.peers).toEqual(expected.peers);
    expect(got.conflicts).toEqual(expected.conflicts);
    expect(got.replaces).toEqual(expected.replaces);
    expect(got.required_target).toEqual(expected.required_target);
    expect(got.required_metadata).toEqual(expected.required_metadata);
    expect(got.is_global).toBe(expected.is_global);
  });
  it.each(parsed)("$id: the name $name", (c) => {
    const info = unitNameInfo(c.name);
    expect(
      info && {
        full_name: info.fullName,
        name: info.name,
        prefix: info.prefix,
        instance: info.instance,
      },
    ).toEqual(c.name_info ?? undefined);
    expect(unitNameProblem(c.name) === undefined).toBe(c.api_validate_name_error === null);
  });
  it.each(parsed)("$id: unknown [X-Fleet] keys ($validate_requirements_warning)", (c) => {
    const unknown = unknownXFleetKeys(parseUnitFile(c.unit).options);
    const named = (
      c.validate_requirements_warning_alternatives ?? [c.validate_requirements_warning]
    )
      .filter((w) => w !== null)
      .map((w) => JSON.parse((/"(.*)"$/.exec(w as string) as RegExpExecArray)[0]) as string);
    // fleet named one unknown key, in map order; the alternatives are all of them.
    if (c.validate_requirements_warning_alternatives)
      expect(sorted(unknown)).toEqual(sorted(named));
    else expect(unknown).toEqual(named);
  });
  it.each(parsed.filter((c) => !(c.id in VALIDATION_DIFFERENCES)))(
    "$id: validation verdict as fleet's ($api_validate_options_error)",
    (c) => {
      const problem = requirementsProblem(parseUnitFile(c.unit).options);
      if (c.api_validate_options_error === null) {
        expect(problem).toBeUndefined();
      } else {
        const kinds = (
          c.api_validate_options_error_alternatives ?? [c.api_validate_options_error]
        ).map(verdictKind);
        expect(kinds).toContain(verdictKind(problem ?? "(accepted)"));
      }
    },
  );
  it.each(Object.entries(req.truthy_values))("Global=%j is %s", (value, truthy) => {
    const options = parseUnitFile(`[X-Fleet]\nGlobal=${value}`).options;
    expect(unitRequirements("a.service", options).global).toBe(truthy);
  });
});

interface UnitCase {
  id: string;
  input: string;
  input_b64?: string;
  accepted: boolean;
  contents: Record<string, Record<string, string[]>> | null;
  api_validate_options_error: string | null;
  api_validate_options_error_alternatives?: string[];
  validate_requirements_warning: string | null;
  validate_requirements_warning_alternatives?: string[];
}
const unitCases = (fixture("units.json") as { cases: UnitCase[] }).cases.filter((c) => c.accepted);
const textOf = (c: UnitCase) => (c.input_b64 ? Buffer.from(c.input_b64, "base64") : c.input);
function optionsOf(c: UnitCase): readonly UnitOption[] | undefined {
  try {
    return parseUnitFile(textOf(c)).options;
  } catch (err) {
    if (err instanceof UnitsError) return undefined;
    throw err;
  }
}

describe("units.json: [X-Fleet] contents and verdicts", () => {
  it("every unit with an [X-Fleet] section is read (the few files fleet-ts refuses have none)", () => {
    const refused = unitCases.filter((c) => optionsOf(c) === undefined);
    for (const c of refused) expect(c.contents?.["X-Fleet"], c.id).toBeUndefined();
  });
  const read = unitCases.filter((c) => optionsOf(c) !== undefined);
  it.each(read)("$id", (c) => {
    const options = optionsOf(c) as readonly UnitOption[];
    expect(Object.fromEntries(requirementValues(undefined, options))).toEqual(
      c.contents?.["X-Fleet"] ?? {},
    );
    const unknown = unknownXFleetKeys(options);
    expect(unknown.length > 0).toBe(c.validate_requirements_warning !== null);
    for (const w of c.validate_requirements_warning_alternatives ?? []) {
      expect(
        unknown.map((k) => `unrecognized requirement in [X-Fleet] section: ${JSON.stringify(k)}`),
      ).toContain(w);
    }
    const problem = requirementsProblem(options);
    const pattern = VALIDATION_DIFFERENCES[c.id];
    if (pattern !== undefined) {
      expect(c.api_validate_options_error).toBeNull();
      expect(problem).toMatch(pattern);
    } else if (c.api_validate_options_error === null) {
      expect(problem).toBeUndefined();
    } else {
      const kinds = (
        c.api_validate_options_error_alternatives ?? [c.api_validate_options_error]
      ).map(verdictKind);
      expect(kinds).toContain(verdictKind(problem ?? "(accepted)"));
    }
  });
  it.each(Object.entries(VALIDATION_DIFFERENCES))(
    "%s: fleet accepted it, fleet-ts refuses it (policy #7)",
    (id, message) => {
      const r = req.cases.find((x) => x.id === id);
      const u = unitCases.find((x) => x.id === id);
      const text = r?.unit ?? (u && textOf(u));
      expect(text).toBeDefined();
      expect((r ?? u)?.api_validate_options_error).toBeNull();
      const options = parseUnitFile(text as string | Uint8Array).options;
      expect(() => validateRequirements(options)).toThrow(RequirementsError);
      expect(requirementsProblem(options)).toMatch(message);
      // What is extracted stays fleet's: no metadata constraint.
      expect(unitRequirements("x.service", options).metadata).toEqual({});
    },
  );
});

const xf = (name: string, value: string): UnitOption => ({ section: "X-Fleet", name, value });

describe("multivalue lines (fleet's parseMultivalueLine)", () => {
  it.each([
    ['"a=1" "b=2"', ["a=1", "b=2"]],
    ['"a  b"', ["a  b"]],
    ['"a" "b"  "c"', ["a", "b", "", "c"]],
    ['"a"\t"b"', ["a\tb"]],
    ['"a\\" "b"', ["a\\", "b"]],
    ['"x y', ['"x y']],
    ['"', [""]],
    ['""', [""]],
    ["plain value", ["plain value"]],
    ["", [""]],
  ])("%j -> %j", (line, values) => {
    expect(parseMultivalueLine(line)).toEqual(values);
  });
  it("applies only to [X-Fleet]", () => {
    const values = requirementValues("a.service", [
      { section: "Service", name: "Conflicts", value: '"a" "b"' },
      xf("Conflicts", '"a" "b"'),
    ]);
    expect(Object.fromEntries(values)).toEqual({ Conflicts: ["a", "b"] });
  });
});

describe("which value wins", () => {
  it("MachineID: the first, MachineID before X-ConditionMachineID before X-ConditionMachineBootID", () => {
    const id = (...o: UnitOption[]) => unitRequirements("a.service", o).machineId;
    expect(id()).toBeUndefined();
    expect(id(xf("MachineID", ""))).toBe("");
    expect(id(xf("MachineID", "m1"), xf("MachineID", "m2"))).toBe("m1");
    expect(id(xf("X-ConditionMachineBootID", "b"), xf("X-ConditionMachineID", "x"))).toBe("x");
    expect(id(xf("X-ConditionMachineID", "x"), xf("MachineID", "m"))).toBe("m");
    expect(id(xf("X-ConditionMachineBootID", "b"))).toBe("b");
    expect(id(xf("MachineID", '"m1" "m2"'))).toBe("m1");
  });
  it("Global: the last value, after the multivalue split", () => {
    const g = (...o: UnitOption[]) => unitRequirements("a.service", o).global;
    expect(g(xf("Global", "true"), xf("Global", "false"))).toBe(false);
    expect(g(xf("Global", "no"), xf("Global", "YES"))).toBe(true);
    expect(g(xf("Global", '"true" "off"'))).toBe(false);
    expect(g(xf("Global", "true"), xf("Global", ""))).toBe(false);
    expect(g(xf("global", "true"))).toBe(false);
    expect(["true", "yes", "1", "on", "t", "ON", "T"].every(isTruthy)).toBe(true);
    expect(["", "y", "enable", "2", "truee"].some(isTruthy)).toBe(false);
  });
  it("peers, conflicts and replaces keep every value; only Conflicts is split at white space", () => {
    const r = unitRequirements("web@1.service", [
      xf("MachineOf", "a.service b.service"),
      xf("X-ConditionMachineOf", "old.service"),
      xf("Conflicts", "x*  y*\tz"),
      xf("X-Conflicts", "legacy*"),
      xf("Replaces", "r1.service r2.service"),
      xf("Replaces", "%p@%i-old.service"),
    ]);
    expect(r.peers).toEqual(["old.service", "a.service b.service"]);
    expect(r.conflicts).toEqual(["legacy*", "x*", "y*", "z"]);
    expect(r.replaces).toEqual(["r1.service r2.service", "web@1-old.service"]);
  });
  it("metadata: ORs values of a key, ANDs keys, keeps spaces, drops malformed pairs", () => {
    const r = unitRequirements("a.service", [
      xf("MachineMetadata", '"region=us" "region=eu" "disk=ssd"'),
      xf("X-ConditionMachineMetadata", "region=ap"),
      xf("MachineMetadata", '"k=" "=v" "a=b=c" "rack = 1"'),
      xf("MachineMetadata", "region=eu"),
    ]);
    expect(r.metadata).toEqual({ region: ["ap", "eu", "us"], disk: ["ssd"], "rack ": [" 1"] });
  });
  it("metadata keys are plain keys, whatever their name", () => {
    const r = unitRequirements("a.service", [
      xf("MachineMetadata", '"__proto__=x" "constructor=y" "toString=z" "hasOwnProperty=1"'),
    ]);
    expect(Object.keys(r.metadata).sort()).toEqual([
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
    ]);
    expect(r.metadata.constructor).toEqual(["y"]);
    expect(Object.getPrototypeOf(r.metadata)).toBe(Object.prototype);
  });
  it("sorts metadata values in Go's (code point) order", () => {
    const r = unitRequirements("a.service", [xf("MachineMetadata", '"k=\u{1F600}" "k=\uFF21"')]);
    expect(r.metadata.k).toEqual(["\uFF21", "\u{1F600}"]);
  });
  it("expands specifiers in every value, and none for a name without a type", () => {
    const options = [xf("MachineOf", "db@%i.service"), xf("MachineMetadata", "shard=%i")];
    const r = unitRequirements("web@3.service", options);
    expect(r.peers).toEqual(["db@3.service"]);
    expect(r.metadata).toEqual({ shard: ["3"] });
    expect(unitRequirements("web", options).peers).toEqual(["db@%i.service"]);
  });
});

describe("validation (fleet's api.ValidateOptions, and policy #7)", () => {
  it.each([
    [
      [xf("MachineID", "abc"), xf("Global", "true")],
      "MachineID cannot be used with Global: a Global unit runs on every machine; remove one of them",
    ],
    [
      [xf("X-ConditionMachineID", "abc"), xf("MachineOf", "x.service")],
      "X-ConditionMachineID cannot be used with MachineOf: it already pins the unit to one machine; remove one of them",
    ],
    [
      [xf("MachineID", ""), xf("X-Conflicts", "x*")],
      "MachineID cannot be used with X-Conflicts: it already pins the unit to one machine; remove one of them",
    ],
    [
      [xf("MachineID", "m"), xf("Replaces", "x.service")],
      "MachineID cannot be used with Replaces: it already pins the unit to one machine; remove one of them",
    ],
    [
      [xf("Global", "on"), xf("X-ConditionMachineOf", "x.service")],
      "Global cannot be used with X-ConditionMachineOf: a Global unit runs on every machine; remove one of them",
    ],
    [
      [xf("Global", "1"), xf("Replaces", "x.service")],
      "Global cannot be used with Replaces: a Global unit runs on every machine; remove one of them",
    ],
    [
      [xf("Conflicts", "a*"), xf("Replaces", "x.service")],
      "Conflicts cannot be used with Replaces: fleet never supported both on one unit; remove one of them",
    ],
    [
      [xf("MachineOf", "db.service"), xf("Conflicts", "db*")],
      "unresolvable requirements: MachineOf=db.service must run with a unit that Conflicts=db* forbids; remove one of them",
    ],
    [
      [xf("MachineOf", ""), xf("Replaces", "")],
      "unresolvable requirements: MachineOf= must run with the unit it Replaces=; remove one of them",
    ],
  ] as const)("%j: %s", (options, message) => {
    expect(requirementsProblem(options)).toBe(message);
    expect(() => validateRequirements(options)).toThrow(new RequirementsError(message));
  });
  it.each([
    [[xf("Global", "true"), xf("Conflicts", "x*")]],
    [[xf("Global", "true"), xf("MachineMetadata", "a=b")]],
    [[xf("MachineID", "m"), xf("MachineMetadata", "a=b")]],
    [[xf("Conflicts", ""), xf("Replaces", "x.service")]],
    [[xf("MachineOf", "db.service"), xf("Conflicts", "[")]],
    [[xf("MachineOf", "web@%i.service"), xf("Conflicts", "web@1.service")]],
    [[xf("MachineMetadata", '"region=us-east" "disk=ssd"')]],
    [[xf("MachineMetadata", "region=us east")]],
    [[xf("MachineMetadata", "a=b=c")]],
  ] as const)("%j is accepted, as by fleet", (options) => {
    expect(requirementsProblem(options)).toBeUndefined();
    expect(() => validateRequirements(options)).not.toThrow();
  });
  it.each([
    ["region=eu disk=ssd", 'MachineMetadata="region=eu" "disk=ssd"'],
    ['"region=eu disk=ssd"', 'MachineMetadata="region=eu" "disk=ssd"'],
    ['"a=1" b=2', 'MachineMetadata="a=1" "b=2"'],
    ["a=1\tb=2 c=3", 'MachineMetadata="a=1" "b=2" "c=3"'],
  ])("refuses the unquoted MachineMetadata=%s, showing %s", (value, fix) => {
    const message = requirementsProblem([xf("MachineMetadata", value)]);
    expect(message).toMatch(/holds several key=value pairs without quotes/);
    expect(message?.endsWith(`write ${fix}`)).toBe(true);
  });
  it("refuses the deprecated X-ConditionMachineMetadata spelling too", () => {
    expect(requirementsProblem([xf("X-ConditionMachineMetadata", "a=1 b=2")])).toMatch(
      /write X-ConditionMachineMetadata="a=1" "b=2"$/,
    );
  });
});

describe("warnings (fleet's ValidateRequirements, and more)", () => {
  it("names each unknown key once, in file order", () => {
    expect(
      unknownXFleetKeys([
        xf("Machineof", "x"),
        xf("MachineOf", "x"),
        xf("global", "true"),
        xf("Machineof", "y"),
        { section: "Unit", name: "Foo", value: "" },
      ]),
    ).toEqual(["Machineof", "global"]);
    expect(unknownXFleetKeys(REQUIREMENT_KEYS.map((k) => xf(k, "")))).toEqual([]);
  });
  it("also warns about MachineMetadata items that are not key=value", () => {
    expect(
      requirementWarnings([
        xf("Machineof", "x"),
        xf("MachineMetadata", "region"),
        xf("MachineMetadata", "a=b"),
      ]),
    ).toEqual([
      'unrecognized requirement in [X-Fleet] section: "Machineof" (ignored; known keys: MachineID, MachineOf, Conflicts, MachineMetadata, Global, Replaces)',
      "MachineMetadata=region is not key=value and is ignored",
    ]);
  });
});

describe("whole units, as the API validates them", () => {
  it("combines name, text and requirements", () => {
    expect(unitProblem("a.service", [])).toBeUndefined();
    expect(unitProblem("a", [])).toMatch(/has no type/);
    expect(unitProblem("a.service", [xf("MachineID", "m"), xf("Global", "t")])).toMatch(
      /^MachineID cannot be used with Global/,
    );
    expect(
      unitOptionsProblem([{ section: "Service", name: "ExecStart", value: "x".repeat(3000) }]),
    ).toMatch(/line is 3010 bytes long/);
    expect(unitOptionsProblem([{ section: "Service", name: "A=B", value: "c" }])).toMatch(
      /cannot be stored as written/,
    );
  });
});

describe("requirements properties", () => {
  const keys = [...REQUIREMENT_KEYS, "Machineof", "global", ""];
  const option = fc.record({
    section: fc.constantFrom("X-Fleet", "X-Fleet", "Unit", "Service", ""),
    name: fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 10 })),
    value: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.constantFrom(
        '"a=b" "c=d"',
        "a=b c=d",
        "__proto__=x",
        '"constructor=y" "toString=z"',
        "[",
        "\\",
        "%n%p%i%N",
        '"',
        "*",
        "a b\tc",
        "",
        "true",
      ),
      fc
        .array(fc.constantFrom('"', " ", "=", "a", "*", "[", "%i", "\t"), { maxLength: 10 })
        .map((a) => a.join("")),
    ),
  });
  const name = fc.oneof(
    fc.constantFrom("a.service", "a@1.service", "a@.service", "noname", "%i@%p.service", ""),
    fc.string(),
  );
  it("never throw anything but a UnitsError (10,000 random units)", () => {
    fc.assert(
      fc.property(name, fc.array(option, { maxLength: 8 }), (n, options) => {
        for (const step of [
          () => unitRequirements(n, options),
          () => requirementValues(n, options),
          () => requirementsProblem(options),
          () => requirementWarnings(options),
          () => unknownXFleetKeys(options),
          () => unitProblem(n, options),
          () => validateRequirements(options),
        ]) {
          try {
            step();
          } catch (err) {
            if (!(err instanceof UnitsError)) throw err;
          }
        }
      }),
      { numRuns: 10_000 },
    );
  });
  it("validation throws exactly when it finds a problem", () => {
    fc.assert(
      fc.property(fc.array(option, { maxLength: 6 }), (options) => {
        const problem = requirementsProblem(options);
        if (problem === undefined) expect(() => validateRequirements(options)).not.toThrow();
        else expect(() => validateRequirements(options)).toThrow(new RequirementsError(problem));
      }),
      { numRuns: 2_000 },
    );
  });
});
