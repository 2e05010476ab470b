import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  assertValidUnitName,
  hasUnitType,
  instanceName,
  mangleUnitName,
  UnitNameError,
  unitNameInfo,
  unitNameProblem,
} from "./unit-name.js";

interface NameCase {
  name: string;
  name_b64?: string;
  valid: boolean;
  validate_name_error: string | null;
  fleetctl_mangled: string;
  name_info: Record<string, string | boolean> | null;
  api_refuses_non_inactive_desired_state: boolean;
}
const vectors = JSON.parse(
  readFileSync(new URL("../test/fixtures/names.json", import.meta.url), "utf8"),
) as { cases: NameCase[] };
const nameOf = (c: NameCase) =>
  c.name_b64 ? Buffer.from(c.name_b64, "base64").toString() : c.name;

/** Policy #17: fleetctl knew 7 unit types, fleet-ts all 13, so these are not given `.service`. */
const MANGLE_DIFFERENCES = new Set([
  "foo@1.scope",
  "foo@1.snapshot",
  "foo@1.target",
  "foo.target",
  "foo.busname",
  "foo.slice",
]);

describe("names.json: fleet's own answers", () => {
  it.each(vectors.cases)("$name: valid=$valid", (c) => {
    const problem = unitNameProblem(nameOf(c));
    expect(problem === undefined).toBe(c.valid);
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
  it.each(vectors.cases.filter((c) => !MANGLE_DIFFERENCES.has(c.name)))(
    "$name: fleetctl mangles to $fleetctl_mangled",
    (c) => {
      expect(mangleUnitName(nameOf(c))).toBe(c.fleetctl_mangled);
    },
  );
  it.each([...MANGLE_DIFFERENCES])("%s: kept as is (fleet appended .service)", (name) => {
    expect(mangleUnitName(name)).toBe(name);
    expect(vectors.cases.find((c) => c.name === name)?.fleetctl_mangled).toBe(`${name}.service`);
  });
});

describe("unit names", () => {
  it("explains what is wrong", () => {
    expect(unitNameProblem("foo")).toBe('unit name "foo" has no type: add a suffix like .service');
    expect(unitNameProblem("foo.cerveza")).toMatch(
      /^invalid unit type "cerveza" in "foo.cerveza": use one of/,
    );
    expect(unitNameProblem("foo@.mount")).toMatch(/a mount unit cannot be a template/);
    expect(unitNameProblem("fo o.service")).toMatch(/invalid character ' ' in unit name/);
    expect(unitNameProblem("it's.service")).toMatch(/invalid character '\\'' in unit name/);
    expect(unitNameProblem("@x.service")).toMatch(/cannot start with "@"/);
    expect(unitNameProblem(`${"a".repeat(250)}.service`)).toMatch(
      /258 bytes long; the limit is 256/,
    );
  });
  it("throws a typed error", () => {
    expect(() => assertValidUnitName("")).toThrow(UnitNameError);
    expect(() => assertValidUnitName("ok.service")).not.toThrow();
  });
  it("makes instances from templates", () => {
    expect(instanceName("web@.service", "3")).toBe("web@3.service");
    expect(() => instanceName("web.service", "3")).toThrow(/not a template/);
  });
  it("knows all 13 unit types", () => {
    expect(hasUnitType("x.target")).toBe(true);
    expect(hasUnitType("x.tar")).toBe(false);
    expect(mangleUnitName("units/hello")).toBe("hello.service");
  });
});
