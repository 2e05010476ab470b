import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  globMatches,
  globMatchesSlowly,
  isGlobPattern,
  isValidGlob,
  literalPrefix,
} from "./glob.js";
import {
  hasMetadata,
  matchesMachineId,
  missingMetadata,
  shortMachineId,
} from "./machine-metadata.js";

const sched = JSON.parse(
  readFileSync(new URL("../test/fixtures/scheduling.json", import.meta.url), "utf8"),
) as {
  glob_matches: { pattern: string; name: string; match: boolean }[];
  match_id: { machine_id: string; requested: string; short_id: string; match: boolean }[];
};

describe("Go path.Match, as fleet's globMatches", () => {
  it.each(sched.glob_matches)("$pattern ~ $name = $match", ({ pattern, name, match }) => {
    expect(globMatches(pattern, name)).toBe(match);
  });
  it.each([
    ["web@*.service", "web@1.service", true],
    ["web@*.service", "web@.service", true],
    ["*", "a/b", false],
    ["a?c", "abc", true],
    ["a?c", "a/c", false],
    ["[a-c]x", "bx", true],
    ["[^a-c]x", "bx", false],
    ["[!a]x", "!x", true],
    ["\\*", "*", true],
    ["\\*", "a", false],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
    ["[", "[", false],
    ["a[", "a", false],
    ["[]a]", "]", false],
    ["é?", "éa", true],
  ] as const)("%s ~ %s = %s", (pattern, name, match) => {
    expect(globMatches(pattern, name)).toBe(match);
  });
  it("tells malformed patterns and glob metacharacters", () => {
    expect(isValidGlob("web@*.service")).toBe(true);
    expect(isValidGlob("[")).toBe(false);
    expect(isValidGlob("a\\")).toBe(false);
    expect(isGlobPattern("web.service")).toBe(false);
    expect(isGlobPattern("web*.service")).toBe(true);
  });
});

describe("compiled globs agree with Go's algorithm", () => {
  const ch = fc.constantFrom("a", "b", "c", "/", "-", "*", "?", "[", "]", "^", "\\", ".", "é", "@");
  const text = fc.array(ch, { maxLength: 8 }).map((a) => a.join(""));
  it("on 20,000 random patterns and names", () => {
    fc.assert(
      fc.property(text, text, (pattern, name) => {
        expect(globMatches(pattern, name)).toBe(globMatchesSlowly(pattern, name));
      }),
      { numRuns: 20_000 },
    );
  });
  it("a class after a star is committed to where it first matches, as Go does", () => {
    // Found by the property above (seed -2114035330): a backtracking regex said true.
    expect(globMatches("*[/a]*", "a/")).toBe(false);
    expect(globMatches("*[/a]*", "a")).toBe(true);
    expect(globMatches("*[/a]*", "/")).toBe(true);
  });
  it("every match starts with the literal prefix", () => {
    expect(literalPrefix("web-1@*.service")).toBe("web-1@");
    expect(literalPrefix("plain.service")).toBe("plain.service");
    expect(literalPrefix("*")).toBe("");
  });
});

describe("machine matching", () => {
  it.each(sched.match_id)("$machine_id matches $requested: $match", (m) => {
    expect(matchesMachineId(m.machine_id, m.requested)).toBe(m.match);
    expect(shortMachineId(m.machine_id)).toBe(m.short_id);
  });
  it("ORs values of one key and ANDs keys, case-sensitively", () => {
    const m = { region: "eu", disk: "ssd" };
    expect(hasMetadata(m, {})).toBe(true);
    expect(hasMetadata(m, { region: ["us", "eu"] })).toBe(true);
    expect(hasMetadata(m, { region: ["eu"], disk: ["hdd"] })).toBe(false);
    expect(hasMetadata(m, { region: ["EU"] })).toBe(false);
    expect(hasMetadata(m, { rack: ["1"] })).toBe(false);
    expect(missingMetadata(m, { region: ["us", "ap"], disk: ["ssd"] })).toEqual(["region=us|ap"]);
  });
});
