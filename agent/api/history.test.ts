import { describe, expect, it } from "vitest";
import type { FeedMessage } from "./event-feed.js";
import { History } from "./history.js";

const m = (revision: number, size = 10): FeedMessage => ({
  kind: "unit",
  revision,
  json: "x".repeat(size),
});

describe("the shared feed's history", () => {
  it("holds every message after the revision it covers, dropping whole revisions", () => {
    const h = new History(5, 35);
    h.add([m(6), m(6)]);
    h.add([m(7)]);
    expect(h.coveredAfter).toBe(5);
    expect(h.since(5).map((x) => x.revision)).toEqual([6, 6, 7]);
    expect(h.since(6).map((x) => x.revision)).toEqual([7]);
    h.add([m(8), m(8)]);
    // 50 bytes > 35: revision 6 goes as a whole; resuming from 6 or later is still exact.
    expect(h.coveredAfter).toBe(6);
    expect(h.since(6).map((x) => x.revision)).toEqual([7, 8, 8]);
    // A revision larger than the bound is not kept either; a resume from it is still exact.
    h.add([m(9, 40)]);
    expect(h.coveredAfter).toBe(9);
    expect(h.since(9)).toEqual([]);
    h.add([m(10)]);
    expect(h.since(9).map((x) => x.revision)).toEqual([10]);
  });
});
