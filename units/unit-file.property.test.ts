import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UnitsError } from "./errors.js";
import { canonicalOptions, parseUnitFile, serializeUnitFile, unitHash } from "./unit-file.js";

/** Text biased towards what the lexer branches on. */
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("[Unit]", "[Service]", "[X-Fleet]", "[", "]", "[ A ]") },
  {
    weight: 4,
    arbitrary: fc.constantFrom("\n", "\r\n", "\r", " ", "\t", "\\", "=", "#", ";", '"'),
  },
  { weight: 3, arbitrary: fc.constantFrom("ExecStart", "Description", "Global", "MachineOf") },
  { weight: 2, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom("\u0085", "\u00a0", "\ufeff", "\u2028", "é", "\ud800") },
  { weight: 1, arbitrary: fc.constant("x".repeat(2100)) },
);
const unitText = fc.array(piece, { maxLength: 40 }).map((parts) => parts.join(""));

const lineBased = fc
  .array(
    fc.oneof(
      fc.constantFrom("[Unit]", "[Service]", "[X-Fleet]", "", "# comment \\", "; c"),
      fc
        .tuple(
          fc.constantFrom("A", "ExecStart", " Spaced ", "X"),
          fc.string({ maxLength: 20 }),
          fc.constantFrom("", " \\", "\\", "  "),
        )
        .map(([n, v, tail]) => `${n}=${v}${tail}`),
    ),
    { maxLength: 15 },
  )
  .chain((lines) => fc.constantFrom("\n", "\r\n").map((eol) => lines.join(eol)));

function parseOrError(text: string) {
  try {
    return parseUnitFile(text);
  } catch (err) {
    if (err instanceof UnitsError) return err;
    throw err;
  }
}

describe("unit-file properties", () => {
  it("parse never throws anything but a UnitsError (10,000 random inputs)", () => {
    fc.assert(
      fc.property(fc.oneof(unitText, lineBased), (text) => {
        parseOrError(text);
      }),
      { numRuns: 10_000 },
    );
  });

  // fleet's canonical text groups options by section, so "identity" is on that order: the
  // options come back the same (grouped), and text and hash are a fixed point.
  it("serialize then parse gives the same options and hash on every accepted input (10,000 random inputs)", () => {
    fc.assert(
      fc.property(fc.oneof(unitText, lineBased), (text) => {
        const first = parseOrError(text);
        if (first instanceof UnitsError) return;
        const text1 = serializeUnitFile(first.options);
        const again = parseUnitFile(text1);
        expect(again.options).toEqual(canonicalOptions(first.options));
        expect(serializeUnitFile(again.options)).toBe(text1);
        expect(unitHash(again.options)).toBe(unitHash(first.options));
      }),
      { numRuns: 10_000 },
    );
  });
});
