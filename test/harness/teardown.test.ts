/**
 * @module test/harness/teardown.test
 * Who may clean a run they did not start, and that a missing run is a no-op.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runLiveness, teardownRun } from "./teardown.js";

describe("run liveness", () => {
  const owner = { pid: 10, startTime: "5" };
  it("treats a run without owner as persistent, and one whose owner is gone as crashed", () => {
    expect(runLiveness({ owner: null }, () => false)).toBe("persistent");
    expect(runLiveness({ owner }, () => true)).toBe("live");
    expect(runLiveness({ owner }, () => false)).toBe("crashed");
  });

  it("does nothing for a directory without a state file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "fts-teardown-"));
    try {
      expect(await teardownRun(dir)).toBeUndefined();
      expect(await teardownRun(path.join(dir, "absent"))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
