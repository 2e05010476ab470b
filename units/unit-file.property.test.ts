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

/** Raw bytes: unit-like text with invalid UTF-8 (truncated, overlong, surrogate) spliced in. */
const unitBytes = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: unitText.map((t) => Buffer.from(t)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          [0xff],
          [0xe2, 0x82],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0xf4, 0x90, 0x80, 0x80],
          [0xef, 0xbb, 0xbf],
        ),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) },
    ),
    { maxLength: 8 },
  )
  .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

const anyInput = fc.oneof(unitText, lineBased, unitBytes);

function parseOrError(text: string | Uint8Array) {
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
      fc.property(anyInput, (text) => {
        parseOrError(text);
      }),
      { numRuns: 10_000 },
    );
  });

  // fleet's canonical text groups options by section (its hash depends on that), so a file whose
  // sections repeat ([Unit] a, [Service] b, [Unit] c) comes back grouped: every option, each
  // section's options in their order, the same text and hash. Options already in canonical
  // order (every file whose sections do not repeat) come back identical.
  it("serialize then parse gives the same options and hash on every accepted input (10,000 random inputs)", () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyInput, (text) => {
        const first = parseOrError(text);
        if (first instanceof UnitsError) return;
        accepted++;
        const text1 = serializeUnitFile(first.options);
        const again = parseUnitFile(text1);
        expect(again.options).toEqual(canonicalOptions(first.options));
        expect(serializeUnitFile(again.options)).toBe(text1);
        expect(unitHash(again.options)).toBe(unitHash(first.options));
        expect(parseUnitFile(serializeUnitFile(again.options)).options).toEqual(again.options);
      }),
      { numRuns: 10_000 },
    );
    // The generators must reach the accepting paths, not only the error ones.
    expect(accepted).toBeGreaterThan(2_000);
  });

  it("options without repeated sections come back identical, in file order (2,000 random inputs)", () => {
    fc.assert(
      fc.property(lineBased, (text) => {
        const first = parseOrError(text);
        if (first instanceof UnitsError) return;
        const sections = first.options.map((o) => o.section);
        const contiguous = sections.every(
          (s, i) => i === 0 || s === sections[i - 1] || !sections.slice(0, i).includes(s),
        );
        fc.pre(contiguous);
        expect(parseUnitFile(serializeUnitFile(first.options)).options).toEqual(first.options);
      }),
      { numRuns: 2_000 },
    );
  });
});
