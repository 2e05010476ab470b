import { describe, expect, it } from "vitest";
import { SerialRuns } from "./serial-runs.js";

describe("SerialRuns", () => {
  it("never overlaps runs, folds the requests made during one into one more, and goes on after a failure", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const errors: unknown[] = [];
    const release: (() => void)[] = [];
    const r = new SerialRuns(
      async () => {
        runs++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise<void>((resolve) => release.push(resolve));
        inFlight--;
        if (runs === 1) throw new Error("first run fails");
      },
      (err) => errors.push(err),
    );
    r.request();
    r.request();
    r.request();
    expect(runs).toBe(1);
    release.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(runs).toBe(2); // the two requests made during the first run: one run
    expect(String(errors[0])).toMatch(/first run fails/);
    release.shift()?.();
    await r.running;
    expect(r.running).toBeUndefined();
    expect(runs).toBe(2);
    expect(maxInFlight).toBe(1);
  });
});
