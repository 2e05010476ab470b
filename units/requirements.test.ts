import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UnitsError } from "./errors.js";
import {
  parseMultivalueLine,
  RequirementsError,
  requirementsProblem,
  requirementValues,
  requirementWarnings,
  unitRequirements,
  unknownXFleetKeys,
  validateRequirements,
} from "./requirements.js";
import { expandSpecifiers } from "./specifiers.js";
import { parseUnitFile } from "./unit-file.js";
import { unitNameInfo } from "./unit-name.js";
import type { UnitOption } from "./unit-option.js";
import { unitOptionsProblem, unitProblem } from "./validate.js";

const fixture = (f: string) =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${f}`, import.meta.url), "utf8"));

interface ReqCase {
  id: string;
  name: string;
  unit: string;
  parse_error?: string;
  requirements: Record<string, string[]>;
  peers: string[];
  conflicts: string[];
  replaces: string[];
  required_target: { machine_id: string; ok: boolean };
  required_metadata: Record<string, string[]>;
  is_global: boolean;
  validate_requirements_warning: string | null;
  api_validate_options_error: string | null;
}
const req = fixture("requirements.json") as {
  cases: ReqCase[];
  unit_printf: { name: string; input: string; output: string }[];
  truthy_values: Record<string, boolean>;
};

/** Policy #7: fleet accepted these and silently dropped the metadata; fleet-ts refuses them. */
const VALIDATION_DIFFERENCES: Record<string, RegExp> = {
  r039: /write MachineMetadata="region=us-east" "disk=ssd"/,
  h037: /write MachineMetadata="a=1" "b=2"/,
};

const sortedEntries = (o: Record<string, readonly string[]>) =>
  Object.keys(o)
    .sort()
    .map((k) => [k, [...(o[k] as string[])].sort()]);

describe("requirements.json: fleet's own answers", () => {
  const parsed = req.cases.filter((c) => c.parse_error === undefined);
  it("has cases whose text fleet could not parse, and so can't we", () => {
    for (const c of req.cases.filter((x) => x.parse_error !== undefined)) {
      expect(() => parseUnitFile(c.unit)).toThrow(UnitsError);
    }
  });
  it.each(parsed)("$id: requirements of $name", (c) => {
    const options = parseUnitFile(c.unit).options;
    const r = unitRequirements(c.name, options);
    expect(Object.fromEntries(requirementValues(c.name, options))).toEqual(c.requirements);
    expect(r.peers).toEqual(c.peers);
    expect(r.conflicts).toEqual(c.conflicts);
    expect(r.replaces).toEqual(c.replaces);
    expect({ machine_id: r.machineId ?? "", ok: r.machineId !== undefined }).toEqual(
      c.required_target,
    );
    expect(sortedEntries(r.metadata)).toEqual(sortedEntries(c.required_metadata));
    expect(r.global).toBe(c.is_global);
    expect(unknownXFleetKeys(options).length > 0).toBe(c.validate_requirements_warning !== null);
  });
  it.each(parsed.filter((c) => !(c.id in VALIDATION_DIFFERENCES)))(
    "$id: validation verdict as fleet's ($api_validate_options_error)",
    (c) => {
      const problem = requirementsProblem(parseUnitFile(c.unit).options);
      expect(problem === undefined).toBe(c.api_validate_options_error === null);
    },
  );
  it.each(req.unit_printf)("unitPrintf($name, $input) = $output", (row) => {
    const info = unitNameInfo(row.name);
    expect(info).toBeDefined();
    expect(expandSpecifiers(row.input, info as NonNullable<typeof info>)).toBe(row.output);
  });
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
  contents: Record<string, Record<string, string[]>>;
  api_validate_options_error: string | null;
  validate_requirements_warning: string | null;
}
const units = (fixture("units.json") as { cases: UnitCase[] }).cases.filter((c) => {
  if (!c.accepted) return false;
  try {
    parseUnitFile(c.input);
    return true;
  } catch {
    return false; // the few files fleet-ts refuses (unit-file.test.ts lists them)
  }
});

describe("units.json: [X-Fleet] contents and verdicts", () => {
  it.each(units)("$id", (c) => {
    const options = parseUnitFile(
      c.input_b64 ? Buffer.from(c.input_b64, "base64") : c.input,
    ).options;
    expect(Object.fromEntries(requirementValues(undefined, options))).toEqual(
      c.contents["X-Fleet"] ?? {},
    );
    expect(unknownXFleetKeys(options).length > 0).toBe(c.validate_requirements_warning !== null);
    const problem = requirementsProblem(options);
    if (c.id in VALIDATION_DIFFERENCES) {
      expect(problem).toMatch(VALIDATION_DIFFERENCES[c.id] as RegExp);
    } else {
      expect(problem === undefined).toBe(c.api_validate_options_error === null);
    }
  });
  it.each(Object.entries(VALIDATION_DIFFERENCES))(
    "%s is refused by fleet-ts (policy #7)",
    (id, message) => {
      const c = req.cases.find((x) => x.id === id) ?? units.find((x) => x.id === id);
      const text = c && ("unit" in c ? c.unit : c.input);
      expect(requirementsProblem(parseUnitFile(text as string).options)).toMatch(message);
    },
  );
});

const xf = (name: string, value: string): UnitOption => ({ section: "X-Fleet", name, value });

describe("requirements details", () => {
  it("splits multivalue lines as fleet did", () => {
    expect(parseMultivalueLine('"a=1" "b=2"')).toEqual(["a=1", "b=2"]);
    expect(parseMultivalueLine('"a  b"')).toEqual(["a  b"]);
    expect(parseMultivalueLine('"a" "b"  "c"')).toEqual(["a", "b", "", "c"]);
    expect(parseMultivalueLine("plain value")).toEqual(["plain value"]);
  });
  it("explains contradictory requirements", () => {
    expect(requirementsProblem([xf("MachineID", "abc"), xf("Global", "true")])).toBe(
      "MachineID cannot be used with Global: keep one of them",
    );
    expect(requirementsProblem([xf("MachineOf", "db.service"), xf("Conflicts", "db*")])).toMatch(
      /MachineOf=db.service must run with a unit that Conflicts=db\* forbids/,
    );
    expect(() => validateRequirements([xf("Global", "true"), xf("Replaces", "x.service")])).toThrow(
      RequirementsError,
    );
  });
  it("warns about what fleet ignored silently", () => {
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
  it("validates whole units as the API must", () => {
    expect(unitProblem("a.service", [])).toBeUndefined();
    expect(unitProblem("a", [])).toMatch(/has no type/);
    expect(
      unitOptionsProblem([{ section: "Service", name: "ExecStart", value: "x".repeat(3000) }]),
    ).toMatch(/line is 3010 bytes long/);
    expect(unitOptionsProblem([{ section: "Service", name: "A=B", value: "c" }])).toMatch(
      /cannot be stored as written/,
    );
  });
});

describe("requirements properties", () => {
  const option = fc.record({
    section: fc.constantFrom("X-Fleet", "Unit", "Service", ""),
    name: fc.oneof(
      fc.constantFrom(
        "MachineID",
        "MachineOf",
        "Conflicts",
        "Replaces",
        "Global",
        "MachineMetadata",
      ),
      fc.constantFrom(
        "X-ConditionMachineID",
        "X-ConditionMachineOf",
        "X-Conflicts",
        "X-ConditionMachineBootID",
      ),
      fc.string({ maxLength: 10 }),
    ),
    value: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('"a=b" "c=d"', "a=b c=d", "[", "\\", "%n%p%i%N", '"', "*", "a b\tc"),
    ),
  });
  const name = fc.oneof(
    fc.constantFrom("a.service", "a@1.service", "a@.service", "noname"),
    fc.string(),
  );
  it("never throws anything but a UnitsError (10,000 random units)", () => {
    fc.assert(
      fc.property(name, fc.array(option, { maxLength: 8 }), (n, options) => {
        try {
          unitRequirements(n, options);
          requirementsProblem(options);
          requirementWarnings(options);
          unitProblem(n, options);
          validateRequirements(options);
        } catch (err) {
          if (!(err instanceof UnitsError)) throw err;
        }
      }),
      { numRuns: 10_000 },
    );
  });
});
