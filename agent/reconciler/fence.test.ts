import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fenceDeadline, fenceDecision, isGlobalUnitText, planFence } from "./fence.js";
import type { CurrentUnit } from "./plan.js";

const TTL = 3000;
const unit = (name: string, launched: boolean, activeState = "inactive"): CurrentUnit => ({
  name,
  fileHash: "a".repeat(40),
  activeState,
  launched,
});

describe("fenceDecision", () => {
  it("fences at 2/3 of the TTL after the last renewal, never later", () => {
    expect(fenceDeadline(10_000, TTL)).toBe(12_000);
    const base = { renewedNotBefore: 10_000, ttlMs: TTL, fencedSince: undefined, relisting: false };
    expect(fenceDecision({ ...base, now: 11_999 })).toBe("hold");
    expect(fenceDecision({ ...base, now: 12_000 })).toBe("fence");
  });

  it("the fence always begins at least TTL/3 before the lease can expire", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 1000, max: 600_000 }),
        fc.integer({ min: 0, max: 1_200_000 }),
        (renewed, ttlMs, after) => {
          const now = renewed + after;
          const d = fenceDecision({
            now,
            renewedNotBefore: renewed,
            ttlMs,
            fencedSince: undefined,
            relisting: false,
          });
          const expiresNoSoonerThan = renewed + ttlMs;
          // Holding is only allowed while more than TTL/3 is left to stop the units.
          if (d === "hold") expect(expiresNoSoonerThan - now).toBeGreaterThan(ttlMs / 3 - 1e-6);
        },
      ),
    );
  });

  it("unfences only once a keepalive sent after the fence was answered", () => {
    const fenced = { ttlMs: TTL, fencedSince: 12_000, relisting: false };
    expect(fenceDecision({ ...fenced, now: 13_000, renewedNotBefore: 10_000 })).toBe("hold");
    expect(fenceDecision({ ...fenced, now: 13_000, renewedNotBefore: 12_000 })).toBe("hold");
    expect(fenceDecision({ ...fenced, now: 13_000, renewedNotBefore: 12_500 })).toBe("unfence");
  });

  it("stays fenced while the schedule is listed again after a lost lease", () => {
    const d = { now: 13_000, renewedNotBefore: 12_900, ttlMs: TTL, relisting: true };
    expect(fenceDecision({ ...d, fencedSince: undefined })).toBe("fence");
    expect(fenceDecision({ ...d, fencedSince: 12_000 })).toBe("hold");
  });
});

describe("planFence", () => {
  it("stops every launched or running unit except global ones", () => {
    const current = new Map([
      ["a.service", unit("a.service", true, "active")],
      ["b.service", unit("b.service", false, "active")],
      ["c.service", unit("c.service", false, "inactive")],
      ["g.service", unit("g.service", true, "active")],
      ["d.service", unit("d.service", true, "failed")],
    ]);
    const tasks = planFence(current, new Set(["g.service"]));
    expect(tasks.map((t) => (t.type === "reload" ? "" : `${t.type} ${t.unit}`))).toEqual([
      "stop a.service",
      "stop b.service",
      "stop d.service",
    ]);
  });
});

describe("isGlobalUnitText", () => {
  it("reads Global= from [X-Fleet]; text it cannot parse is not global", () => {
    expect(
      isGlobalUnitText("g.service", "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n"),
    ).toBe(true);
    expect(isGlobalUnitText("g.service", "[X-Fleet]\nGlobal=false\n")).toBe(false);
    expect(isGlobalUnitText("g.service", "[Service]\nExecStart=/bin/true\n")).toBe(false);
    expect(isGlobalUnitText("g.service", "\u0000not a unit")).toBe(false);
  });
});
