import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  hasMetadata,
  matchesMachineId,
  missingMetadata,
  SHORT_ID_LENGTH,
  shortMachineId,
} from "./machine-metadata.js";

// scheduling.json's glob_matches table (Conflicts globs) is checked in glob.test.ts.
const sched = JSON.parse(
  readFileSync(new URL("../test/fixtures/scheduling.json", import.meta.url), "utf8"),
) as {
  match_id: { machine_id: string; requested: string; short_id: string; match: boolean }[];
};

describe("scheduling.json match_id: fleet's MatchID and ShortID", () => {
  it.each(sched.match_id)("$machine_id ~ $requested: $match (short $short_id)", (m) => {
    expect(matchesMachineId(m.machine_id, m.requested)).toBe(m.match);
    expect(shortMachineId(m.machine_id)).toBe(m.short_id);
  });
});

describe("machine IDs", () => {
  const id = "2c4b9a93f7d64b8f8c7a1b2c3d4e5f60";
  it("matches the full ID or exactly the 8-byte short ID, case-sensitively", () => {
    expect(SHORT_ID_LENGTH).toBe(8);
    expect(shortMachineId(id)).toBe("2c4b9a93");
    expect(matchesMachineId(id, id)).toBe(true);
    expect(matchesMachineId(id, "2c4b9a93")).toBe(true);
    expect(matchesMachineId(id, "2c4b9a9")).toBe(false);
    expect(matchesMachineId(id, "2c4b9a93f")).toBe(false);
    expect(matchesMachineId(id, "2C4B9A93")).toBe(false);
    expect(matchesMachineId(id, "")).toBe(false);
  });
  it("counts bytes, as Go did, for the odd non-ASCII ID", () => {
    // "é" is 2 bytes: 4 of them are the 8-byte short ID.
    expect(shortMachineId("éééééé")).toBe("éééé");
    expect(matchesMachineId("éééééé", "éééé")).toBe(true);
    expect(matchesMachineId("aéééééé", "aééé")).toBe(false); // 7 bytes
    // Go cut "aéééé" after 8 bytes, mid-character: no 8-byte prefix of it matches.
    expect(shortMachineId("aéééé")).toBe("aééé");
    expect(matchesMachineId("aéééé", "aééé")).toBe(false);
    expect(matchesMachineId("abcdefgé", "abcdefg")).toBe(false);
    expect(matchesMachineId("abcdefghé", "abcdefgh")).toBe(true);
  });
});

describe("machine metadata (fleet's machine.HasMetadata)", () => {
  const m = { region: "eu", disk: "ssd" };
  it.each([
    [{}, true],
    [{ region: ["us", "eu"] }, true],
    [{ region: ["eu"], disk: ["ssd"] }, true],
    [{ region: ["eu"], disk: ["hdd"] }, false],
    [{ region: ["EU"] }, false],
    [{ rack: ["1"] }, false],
    [{ region: [] }, false],
  ] as const)("%j: %s", (required, expected) => {
    expect(hasMetadata(m, required)).toBe(expected);
    expect(missingMetadata(m, required).length === 0).toBe(expected);
  });
  it("treats keys such as constructor or __proto__ as plain keys", () => {
    const machine = JSON.parse('{"__proto__":"x","constructor":"y"}') as Record<string, string>;
    expect(hasMetadata(machine, JSON.parse('{"__proto__":["x"]}'))).toBe(true);
    expect(hasMetadata({}, JSON.parse('{"__proto__":["x"]}'))).toBe(false);
    expect(hasMetadata({}, { constructor: ["y"], toString: ["z"] })).toBe(false);
    expect(hasMetadata(machine, { constructor: ["y"] })).toBe(true);
  });
  it("names the keys a machine fails, with the accepted values", () => {
    expect(missingMetadata(m, { region: ["us", "ap"], disk: ["ssd"], rack: ["1"] })).toEqual([
      "region=us|ap",
      "rack=1",
    ]);
  });
});
