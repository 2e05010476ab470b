import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as units from "./index.js";

const here = new URL(".", import.meta.url);
function sources(dir: URL): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(new URL(`${e.name}/`, dir)).map((f) => `${e.name}/${f}`)
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [e.name]
        : [],
  );
}

describe("the fleet-ts/units public entry", () => {
  it("is what package.json exports", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.exports["./units"].default).toBe("./dist/units/index.js");
    expect(pkg.exports["./units"].types).toBe("./dist/units/index.d.ts");
  });
  it("exports the documented API", () => {
    for (const fn of [
      "parseUnitFile",
      "serializeUnitFile",
      "unitHash",
      "shortHash",
      "unitNameInfo",
      "unitRequirements",
      "requirementsProblem",
      "unitProblem",
      "globMatches",
      "hasMetadata",
      "commandTarget",
    ]) {
      expect(typeof (units as Record<string, unknown>)[fn]).toBe("function");
    }
  });
  it("units/ imports nothing of ours outside units/ and has no `any`", () => {
    for (const file of sources(here)) {
      const text = readFileSync(new URL(file, here), "utf8");
      for (const m of text.matchAll(/from "(\.[^"]+)"/g)) {
        const depth = file.split("/").length - 1;
        const up = (m[1] as string).split("/").filter((p) => p === "..").length;
        expect(up, `${file} imports ${m[1]}`).toBeLessThanOrEqual(depth);
      }
      expect(/:\s*any\b|as any\b|<any>/.test(text), `${file} uses any`).toBe(false);
    }
  });
});
