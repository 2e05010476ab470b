import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UnitsError } from "./errors.js";
import {
  assertValidUnitName,
  hasUnitType,
  instanceName,
  isValidUnitName,
  mangleUnitName,
  TEMPLATE_TYPES,
  UNIT_TYPES,
  UnitNameError,
  unitNameInfo,
  unitNameProblem,
} from "./unit-name.js";

interface NameCase {
  name: string;
  name_b64?: string;
  valid: boolean;
  validate_name_error: string | null;
  recognized_unit_type: boolean;
  fleetctl_mangled: string;
  fleetctl_mangled_validate_name_error: string | null;
  name_info: Record<string, string | boolean> | null;
  api_refuses_non_inactive_desired_state: boolean;
}
const vectors = JSON.parse(
  readFileSync(new URL("../test/fixtures/names.json", import.meta.url), "utf8"),
) as { cases: NameCase[] };
const nameOf = (c: NameCase) =>
  c.name_b64 ? Buffer.from(c.name_b64, "base64").toString() : c.name;

/**
 * Where fleet-ts deliberately differs from fleet (test/fixtures/VECTORS-README.md, policy #17):
 * fleetctl v1.0.0 recognised 7 unit types, so it appended `.service` to a name of any of the 6
 * others. fleet-ts recognises all 13 and keeps the name as typed.
 *
 * | case | fleet's fleetctl | fleet-ts | why |
 * |---|---|---|---|
 * | foo.target | foo.target.service | foo.target | #17: target is a unit type |
 * | foo@1.target | foo@1.target.service | foo@1.target | #17 |
 * | foo.busname | foo.busname.service | foo.busname | #17 |
 * | foo.slice | foo.slice.service | foo.slice | #17 |
 * | foo@1.scope | foo@1.scope.service | foo@1.scope (invalid: scopes cannot be instances) | #17: the user hears what is wrong instead of "unit not found" |
 * | foo@1.snapshot | foo@1.snapshot.service | foo@1.snapshot (invalid, as above) | #17 |
 */
const MANGLE_DIFFERENCES: Readonly<Record<string, { ours: string; valid: boolean }>> = {
  "foo.target": { ours: "foo.target", valid: true },
  "foo@1.target": { ours: "foo@1.target", valid: true },
  "foo.busname": { ours: "foo.busname", valid: true },
  "foo.slice": { ours: "foo.slice", valid: true },
  "foo@1.scope": { ours: "foo@1.scope", valid: false },
  "foo@1.snapshot": { ours: "foo@1.snapshot", valid: false },
};

/** fleet's unit.RecognizedUnitType knew only these (the source of policy #17). */
const FLEETCTL_V1_TYPES = ["service", "socket", "timer", "path", "device", "mount", "automount"];

describe("names.json: fleet's own answers", () => {
  it.each(vectors.cases)("$name: valid=$valid", (c) => {
    const problem = unitNameProblem(nameOf(c));
    expect(problem === undefined).toBe(c.valid);
    expect(isValidUnitName(nameOf(c))).toBe(c.valid);
  });
  it.each(vectors.cases)("$name: decomposition", (c) => {
    const info = unitNameInfo(nameOf(c));
    const got = info && {
      full_name: info.fullName,
      name: info.name,
      prefix: info.prefix,
      template: info.template,
      instance: info.instance,
      is_instance: info.isInstance,
      is_template: info.isTemplate,
    };
    expect(got ?? null).toEqual(c.name_info);
    expect(info?.isTemplate ?? false).toBe(c.api_refuses_non_inactive_desired_state);
  });
  it.each(vectors.cases.filter((c) => !(c.name in MANGLE_DIFFERENCES)))(
    "$name: fleetctl mangles to $fleetctl_mangled",
    (c) => {
      const mangled = mangleUnitName(nameOf(c));
      expect(mangled).toBe(c.fleetctl_mangled);
      expect(unitNameProblem(mangled) === undefined).toBe(
        c.fleetctl_mangled_validate_name_error === null,
      );
    },
  );
  it.each(Object.entries(MANGLE_DIFFERENCES))(
    "%s: kept as typed (fleet appended .service, policy #17)",
    (name, { ours, valid }) => {
      const c = vectors.cases.find((x) => x.name === name);
      expect(c?.fleetctl_mangled).toBe(`${name}.service`);
      expect(c?.recognized_unit_type).toBe(false);
      expect(mangleUnitName(name)).toBe(ours);
      expect(isValidUnitName(ours)).toBe(valid);
    },
  );
  it("differs only where fleet's 7 known types missed one of the 13", () => {
    for (const c of vectors.cases) {
      const fleetKnew = FLEETCTL_V1_TYPES.some((t) => c.name.endsWith(`.${t}`));
      expect(fleetKnew).toBe(c.recognized_unit_type);
      const differs = c.name in MANGLE_DIFFERENCES;
      expect(differs).toBe(!fleetKnew && hasUnitType(c.name));
    }
  });
});

describe("unit names", () => {
  it("has systemd's 13 types, 5 of which can be templates", () => {
    expect(UNIT_TYPES).toHaveLength(13);
    expect(TEMPLATE_TYPES).toEqual(["path", "service", "socket", "target", "timer"]);
    for (const t of UNIT_TYPES) {
      expect(isValidUnitName(`a.${t}`)).toBe(true);
      expect(isValidUnitName(`a@1.${t}`)).toBe((TEMPLATE_TYPES as readonly string[]).includes(t));
    }
  });
  it.each([
    ["", "unit name cannot be empty: give a name like web.service"],
    ["foo", 'unit name "foo" has no type: add a suffix like .service'],
    ["foo.", 'unit name "foo." cannot end in ".": end it with a type like .service'],
    ["foo.cerveza", /^invalid unit type "cerveza" in "foo.cerveza": use one of automount, /],
    ["foo@.mount", /a mount unit cannot be a template or instance \(@\); only path, service/],
    ["fo o.service", /^invalid character ' ' in unit name "fo o.service": use letters, digits/],
    ["it's.service", /invalid character '\\'' in unit name/],
    ["a\tb.service", /invalid character '\\t' in unit name/],
    ["a\u0000b.service", /invalid character '\\x00' in unit name/],
    ["a\u00a0b.service", /invalid character '\\u00a0' in unit name/],
    ["a\u200bb.service", /invalid character '\\u200b' in unit name/],
    ["smörgås.service", /invalid character 'ö' in unit name/],
    ["@x.service", /cannot start with "@": put a name before it, like web@.service/],
    [`${"a".repeat(250)}.service`, "unit name is 258 bytes long; the limit is 256: shorten it"],
  ] as const)("%j: %s", (name, message) => {
    const problem = unitNameProblem(name);
    if (typeof message === "string") expect(problem).toBe(message);
    else expect(problem).toMatch(message);
  });
  it("counts the length limit in bytes, as fleet did", () => {
    expect(isValidUnitName(`${"a".repeat(248)}.service`)).toBe(true);
    // 125 two-byte characters are 250 bytes: too long (checked before the characters).
    expect(unitNameProblem(`${"é".repeat(125)}.service`)).toMatch(/258 bytes long/);
  });
  it("throws a typed error", () => {
    expect(() => assertValidUnitName("")).toThrow(UnitNameError);
    expect(() => assertValidUnitName("")).toThrow(UnitsError);
    expect(() => assertValidUnitName("ok.service")).not.toThrow();
  });
  it("splits at the first @ and the last dot", () => {
    expect(unitNameInfo("web@a.b.service")).toEqual({
      fullName: "web@a.b.service",
      name: "web@a.b",
      prefix: "web",
      template: "web@.service",
      instance: "a.b",
      isInstance: true,
      isTemplate: false,
    });
    expect(unitNameInfo("a@b@c.service")?.instance).toBe("b@c");
    expect(unitNameInfo("plain")).toBeUndefined();
  });
  it("makes instances from templates", () => {
    expect(instanceName("web@.service", "3")).toBe("web@3.service");
    expect(instanceName("ssh@.socket", "a.b")).toBe("ssh@a.b.socket");
    expect(() => instanceName("web.service", "3")).toThrow(
      new UnitNameError(
        '"web.service" is not a template unit name: a template has an "@" right before its type, like web@.service',
      ),
    );
    expect(() => instanceName("web@1.service", "3")).toThrow(/not a template/);
    expect(() => instanceName("web@.service", "")).toThrow(
      /the instance of "web@.service" cannot be empty: give one, like web@1.service/,
    );
    expect(() => instanceName("web@.service", "a b")).toThrow(UnitNameError);
  });
  it("mangles command-line arguments as fleetctl did, knowing all 13 types", () => {
    expect(hasUnitType("x.target")).toBe(true);
    expect(hasUnitType("x.tar")).toBe(false);
    expect(hasUnitType("target")).toBe(false);
    expect(mangleUnitName("units/hello")).toBe("hello.service");
    expect(mangleUnitName("units/hello.target")).toBe("hello.target");
    expect(mangleUnitName("units/")).toBe("units.service");
    expect(mangleUnitName("/")).toBe("/.service");
    expect(mangleUnitName("")).toBe("..service");
  });
});
