import { describe, expect, it } from "vitest";
import { memoryLogger } from "./logging/logger.js";
import type { UnitStateRecord } from "./registry/codecs.js";
import {
  type ReportedState,
  type StateChange,
  StatePublisher,
  type StatePublisherOptions,
  stateChanges,
} from "./state-publisher.js";

const running: ReportedState = {
  loadState: "loaded",
  activeState: "active",
  subState: "running",
  hash: "a".repeat(40),
};

describe("stateChanges", () => {
  it("writes a new or changed state and deletes one no longer reported", () => {
    const published = new Map<string, UnitStateRecord>([
      ["same.service", { ...running, since: 1 }],
      ["changed.service", { ...running, since: 1 }],
      ["gone.service", { ...running, since: 1 }],
    ]);
    const reported = new Map<string, ReportedState>([
      ["same.service", running],
      ["changed.service", { ...running, activeState: "failed", subState: "failed" }],
      ["new.service", running],
    ]);
    expect(stateChanges(reported, published, 7)).toEqual([
      {
        unit: "changed.service",
        state: { ...running, activeState: "failed", subState: "failed", since: 7 },
      },
      { unit: "new.service", state: { ...running, since: 7 } },
      { unit: "gone.service", state: undefined },
    ]);
  });

  it("a new file hash is a change even with the same states", () => {
    const published = new Map([["u.service", { ...running, since: 1 }]]);
    const reported = new Map([["u.service", { ...running, hash: "b".repeat(40) }]]);
    expect(stateChanges(reported, published, 2)).toHaveLength(1);
  });
});

/** A store the writes are applied to in the order they complete, each held until released. */
function slowStore() {
  const store = new Map<string, UnitStateRecord>();
  const pending: { changes: readonly StateChange[]; release: (err?: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const write = (_lease: string, changes: readonly StateChange[]) =>
    new Promise<void>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      pending.push({
        changes,
        release: (err) => {
          inFlight--;
          if (err !== undefined) return reject(err);
          for (const c of changes) {
            if (c.state === undefined) store.delete(c.unit);
            else store.set(c.unit, c.state);
          }
          resolve();
        },
      });
    });
  return { store, pending, write, maxInFlight: () => maxInFlight };
}

/** A publisher writing to `s`, gathering for 1 ms. */
function publisher(
  s: ReturnType<typeof slowStore>,
  snapshot: StatePublisherOptions["snapshot"],
  extra: Partial<StatePublisherOptions> = {},
): StatePublisher {
  return new StatePublisher({
    snapshot,
    write: s.write,
    log: memoryLogger(),
    delayMs: 1,
    ...extra,
  });
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe("StatePublisher", () => {
  it("a unit removed while a write is in flight loses its state key: one write at a time", async () => {
    const s = slowStore();
    const reported = new Map<string, ReportedState>([["u.service", running]]);
    const p = publisher(s, () => ({ leaseId: "1", reported }));
    p.request();
    await tick();
    expect(s.pending).toHaveLength(1); // the put of u is in flight
    // The unit changes, then is removed, while that write runs: each asks for a publish.
    reported.set("u.service", { ...running, activeState: "deactivating", subState: "stop" });
    p.request();
    reported.delete("u.service");
    p.request();
    await tick();
    expect(s.pending).toHaveLength(1); // nothing overlaps the first write
    s.pending[0]?.release();
    await tick();
    expect(s.pending).toHaveLength(2); // one write for everything asked meanwhile
    expect(s.pending[1]?.changes).toEqual([{ unit: "u.service", state: undefined }]);
    s.pending[1]?.release();
    await p.idle();
    expect(s.store.size).toBe(0);
    expect(s.maxInFlight()).toBe(1);
  });

  it("retries a failed write and logs it", async () => {
    const s = slowStore();
    const log = memoryLogger();
    const reported = new Map<string, ReportedState>([["u.service", running]]);
    const p = publisher(s, () => ({ leaseId: "1", reported }), { log, retryMs: 20 });
    p.request();
    await tick();
    s.pending[0]?.release(new Error("etcd unavailable"));
    await tick(60);
    expect(log.lines.join("\n")).toMatch(
      /cannot publish unit states; will retry.*etcd unavailable/,
    );
    expect(s.pending).toHaveLength(2);
    s.pending[1]?.release();
    await p.idle();
    expect([...s.store.keys()]).toEqual(["u.service"]);
  });

  it("on a new lease it writes every state again, even one a write in flight recorded", async () => {
    const s = slowStore();
    let lease = "1";
    const reported = new Map<string, ReportedState>([["u.service", running]]);
    const p = publisher(s, () => ({ leaseId: lease, reported }));
    p.request();
    await tick();
    lease = "2";
    p.request(); // while the write on lease 1 is still in flight
    s.pending[0]?.release();
    await tick();
    expect(s.pending).toHaveLength(2);
    expect(s.pending[1]?.changes.map((c) => c.unit)).toEqual(["u.service"]);
    s.pending[1]?.release();
    await p.idle();
  });

  it("adopting what a resumed lease holds rewrites nothing unchanged and deletes what is gone", async () => {
    const s = slowStore();
    const p = publisher(s, () => ({
      leaseId: "1",
      reported: new Map([["kept.service", running]]),
    }));
    p.adopt(
      "1",
      new Map([
        ["kept.service", { ...running, since: 1 }],
        ["removed.service", { ...running, since: 1 }],
      ]),
    );
    p.request();
    await tick();
    expect(s.pending.map((w) => w.changes)).toEqual([
      [{ unit: "removed.service", state: undefined }],
    ]);
    s.pending[0]?.release();
    await p.idle();
  });

  it("a state written on the new lease before the agent heard of it is still deleted when its unit goes", async () => {
    const s = slowStore();
    const reported = new Map<string, ReportedState>([["u.service", running]]);
    const p = publisher(s, () => ({ leaseId: "2", reported }));
    p.request();
    await tick();
    p.request(); // the agent hears of the new lease while the put on it is in flight
    reported.delete("u.service");
    s.pending[0]?.release();
    await tick();
    expect(s.pending[1]?.changes).toEqual([{ unit: "u.service", state: undefined }]);
    s.pending[1]?.release();
    await p.idle();
    expect(s.store.size).toBe(0);
  });

  it("writes nothing before there is a lease, nor when nothing changed", async () => {
    const s = slowStore();
    let lease: string | undefined;
    const p = publisher(s, () => ({ leaseId: lease, reported: new Map([["u.service", running]]) }));
    p.request();
    await p.idle();
    expect(s.pending).toHaveLength(0);
    lease = "1";
    p.request();
    await tick();
    s.pending[0]?.release();
    await p.idle();
    p.request();
    await p.idle();
    expect(s.pending).toHaveLength(1);
    await p.stop();
  });
});
