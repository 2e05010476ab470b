/**
 * Property: no document — random YAML-ish text or random structured documents over
 * cloud-config's own keys — makes the parser, the validator or the planner throw anything but
 * a CloudConfigError. Parsing and validation never throw at all. 10,000 documents in all, as
 * for the API's bodies (test/fuzz) and unit files (units/unit-file.property.test.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { AccountsSnapshot } from "../cloud-config/accounts.js";
import { parseUserData } from "../cloud-config/document.js";
import { CloudConfigError } from "../cloud-config/errors.js";
import { planCloudConfig } from "../cloud-config/plan.js";
import { cloudConfigSpec, type FieldSpec } from "../cloud-config/schema.js";
import { validateDocument } from "../cloud-config/validate.js";

const ACCOUNTS: AccountsSnapshot = {
  users: [{ name: "root", uid: 0, gid: 0, home: "/root" }],
  groups: [{ name: "root", gid: 0 }],
};

/** How many documents planned without a refusal: the generators must reach the planner's end. */
let planned = 0;

function check(text: string): void {
  const doc = parseUserData(text);
  const report = validateDocument(doc);
  expect(Array.isArray(report.entries)).toBe(true);
  for (const e of report.entries) expect(Number.isInteger(e.line) && e.line >= 1).toBe(true);
  try {
    if (planCloudConfig(doc.config, ACCOUNTS).actions.length > 2) planned++;
  } catch (e) {
    if (!(e instanceof CloudConfigError)) throw e;
  }
}

const yamlChars = fc.constantFrom(
  ..."abcz019 :-_\n\n\n  \t#'\"|>[]{},&*!%@`?.\\/=+~$".split(""),
  "\r\n",
  "- ",
  ": ",
  "!!binary ",
  "coreos:\n  ",
  "units:\n",
  "write_files:\n  - ",
  "path: ",
  "fleet:\n    ",
  "é",
  "\u0000",
);
const yamlish = fc.array(yamlChars, { maxLength: 200 }).map((cs) => cs.join(""));

/** Random values that sometimes have the right shape for the field and often do not. */
function valueFor(spec: FieldSpec, depth: number): fc.Arbitrary<unknown> {
  const scalar = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(
      "0744",
      "off",
      "yes",
      "010",
      "1e3",
      "/etc/x",
      "x.service",
      "start",
      "b64",
      "gzip",
      "root:root",
      "../x",
    ),
  );
  if (depth > 3) return scalar;
  switch (spec.kind) {
    case "struct": {
      const entries = Object.entries(spec.fields ?? {});
      return fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .dictionary(fc.constantFrom(...entries.map(([k]) => k), "unknown-key"), fc.constant(0))
            .chain((keys) =>
              fc.record(
                Object.fromEntries(
                  Object.keys(keys).map((k) => {
                    const f = spec.fields?.[k];
                    return [k, f ? valueFor(f, depth + 1) : scalar];
                  }),
                ),
              ),
            ),
        },
        { weight: 1, arbitrary: scalar },
      );
    }
    case "slice":
      return fc.oneof(
        {
          weight: 4,
          arbitrary: fc.array(spec.elem ? valueFor(spec.elem, depth + 1) : scalar, {
            maxLength: 4,
          }),
        },
        { weight: 1, arbitrary: scalar },
      );
    default:
      return scalar;
  }
}

describe("fleet-cloudinit never throws an untyped error", () => {
  it("on random YAML-ish text, with and without the header", () => {
    fc.assert(
      fc.property(yamlish, fc.boolean(), (body, header) => {
        check(header ? `#cloud-config\n${body}` : body);
      }),
      { numRuns: 4500 },
    );
  });

  it("on random structured documents over cloud-config's keys", () => {
    planned = 0;
    fc.assert(
      fc.property(valueFor(cloudConfigSpec, 0), (doc) => {
        check(`#cloud-config\n${stringify(doc)}`);
      }),
      { numRuns: 4500 },
    );
    expect(planned).toBeGreaterThan(50);
  }, 90_000); // ~7 s alone; the suite runs it beside cluster tests on 2 cores

  it("on random JSON-like values", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        check(`#cloud-config\n${stringify(v)}`);
      }),
      { numRuns: 1000 },
    );
  });
});
