import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { expandSpecifiers } from "./specifiers.js";
import { type UnitNameInfo, unitNameInfo } from "./unit-name.js";

const printf = (
  JSON.parse(
    readFileSync(new URL("../test/fixtures/requirements.json", import.meta.url), "utf8"),
  ) as { unit_printf: { name: string; input: string; output: string }[] }
).unit_printf;

const info = (name: string): UnitNameInfo => {
  const i = unitNameInfo(name);
  if (i === undefined) throw new Error(`${name} has no type`);
  return i;
};

describe("requirements.json unit_printf: fleet's own answers", () => {
  it.each(printf)("unitPrintf($name, $input) = $output", (row) => {
    expect(expandSpecifiers(row.input, info(row.name))).toBe(row.output);
  });
});

describe("specifiers", () => {
  it("expands %n %N %p %i", () => {
    expect(expandSpecifiers("%n|%N|%p|%i", info("web@1.service"))).toBe(
      "web@1.service|web@1|web|1",
    );
    expect(expandSpecifiers("%i", info("web.service"))).toBe("");
  });
  it("replaces one specifier after the other, as fleet did (no %% escape)", () => {
    expect(expandSpecifiers("%%i", info("web@1.service"))).toBe("%1");
    // %p gives "a%i", which the %i pass then expands.
    expect(expandSpecifiers("%p", info("a%i@x.service"))).toBe("ax");
    expect(expandSpecifiers("%x %", info("web@1.service"))).toBe("%x %");
  });
});
