/**
 * @module test/harness/state-file.test
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  HarnessStateError,
  type RunState,
  RunStateStore,
  readRunState,
  statePath,
} from "./state-file.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "fts-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const state: RunState = {
  version: 1,
  runId: "abc-123",
  baseDir: dir,
  createdAt: "2024-01-01T00:00:00.000Z",
  owner: { pid: 1, startTime: "1" },
  tmpfs: path.join(dir, "hosts"),
  cgroupRunDirs: ["/sys/fs/cgroup/cpu/fleet-ts-hosts/abc-123"],
  hosts: [],
};

describe("run state file", () => {
  it("is written at once and after each update, and read back as written", () => {
    const store = new RunStateStore(structuredClone(state));
    expect(readRunState(dir)).toEqual(state);
    store.update((s) => {
      s.hosts.push({
        index: 0,
        name: "h0",
        dir: path.join(dir, "hosts/h0"),
        machineId: "f".repeat(32),
        cgroupDirs: [],
      });
    });
    expect(readRunState(dir)?.hosts.map((h) => h.name)).toEqual(["h0"]);
  });

  it("names the file and the bad field when the state is not ours", () => {
    writeFileSync(statePath(dir), JSON.stringify({ ...state, version: 2 }));
    expect(() => readRunState(dir)).toThrow(HarnessStateError);
    expect(() => readRunState(dir)).toThrow(/state\.json: field version/);
    writeFileSync(statePath(dir), "{");
    expect(() => readRunState(dir)).toThrow(/not JSON/);
  });
});
