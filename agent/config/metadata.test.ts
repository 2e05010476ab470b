import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseGoDuration } from "./duration.js";
import { formatMetadata, parseMetadata } from "./metadata.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../test/fixtures/scheduling.json", import.meta.url), "utf8"),
) as { metadata_config_parse: { raw: string; parsed: Record<string, string> }[] };

describe("parseMetadata matches fleet's config.Metadata()", () => {
  it.each(vectors.metadata_config_parse)("$raw", ({ raw, parsed }) => {
    expect(parseMetadata(raw)).toEqual(parsed);
  });
  it("drops one pair of surrounding quotes left by Environment= lines", () => {
    expect(parseMetadata('"region=eu,disk=ssd"')).toEqual({ region: "eu", disk: "ssd" });
    expect(parseMetadata("'a=1'")).toEqual({ a: "1" });
  });
  it("formats sorted by key", () => {
    expect(formatMetadata({ z: "1", a: "2" })).toBe("a=2,z=1");
  });
});

describe("parseGoDuration", () => {
  it.each([
    ["30s", 30_000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["500ms", 500],
    ["0", 0],
    ["2h45m", 9_900_000],
    ["-1s", -1000],
    ["1us", 0.001],
    [" 5s ", 5000],
  ])("%s = %d ms", (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });
  it.each(["", "30", "s", "3 0s", "1d", "1.s.", "abc"])("rejects %j", (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});
