import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { memoryLogger } from "../logging/logger.js";
import { Registry } from "./registry.js";
import type { WatchEvent } from "./watch.js";

let etcd: EtcdCluster;
let r: Registry;

beforeAll(async () => {
  etcd = await startEtcd();
  r = new Registry({ endpoints: etcd.endpoints, prefix: "/w/", log: memoryLogger() });
});
afterAll(async () => {
  r?.close();
  await etcd?.stop();
});

function recorder() {
  const events: string[] = [];
  let resyncs = 0;
  let listed: string[] = [];
  return {
    events,
    get resyncs() {
      return resyncs;
    },
    get listed() {
      return listed;
    },
    handlers: {
      onResync: (l: { kvs: { key: string; value: Buffer }[] }) => {
        resyncs++;
        listed = l.kvs.map((kv) => `${kv.key.slice(3)}=${kv.value.toString()}`);
      },
      onEvents: (evs: readonly WatchEvent[]) => {
        for (const e of evs) events.push(`${e.type} ${e.key.slice(3)}=${e.value.toString()}`);
      },
    },
  };
}

describe("(etcd) watch resilience", () => {
  it("(etcd) resumes after an etcd restart from the last revision: no missed event, no duplicate, no reload", async () => {
    const rec = recorder();
    const w = await r.watch("/w/a/", rec.handlers);
    await r.client.put("/w/a/1").value("x");
    await expect.poll(() => rec.events).toEqual(["put a/1=x"]);

    await etcd.stopMember(0);
    await etcd.restartMember(0);
    // Written right after the restart, before the watch stream has necessarily reconnected.
    await r.client.put("/w/a/2").value("y");
    await r.client.put("/w/a/1").value("z");
    await expect
      .poll(() => rec.events, { timeout: 15_000, interval: 100 })
      .toEqual(["put a/1=x", "put a/2=y", "put a/1=z"]);
    expect(rec.resyncs).toBe(1); // only the initial listing
    expect(w.resyncs).toBe(0);
    await w.close();
  });

  it("(etcd) when etcd compacted past the watch's revision, lists again exactly once and goes on", async () => {
    // The watch talks to member 0 only. Member 0 is down while the others accept writes and
    // compact them away; when it is back, etcd3 re-creates the watch from the last revision it
    // saw, which is gone, and etcd cancels it: the watch must list again, once, and go on.
    const cluster = await startEtcd({ members: 3 });
    const endpoint0 = cluster.endpoints[0] as string;
    const watching = new Registry({ endpoints: [endpoint0], prefix: "/w/", log: memoryLogger() });
    const writer = new Registry({ endpoints: cluster.endpoints.slice(1), prefix: "/w/" });
    try {
      await writer.client.put("/w/c/0").value("start");
      const rec = recorder();
      const w = await watching.watch("/w/c/", rec.handlers);
      await writer.client.put("/w/c/1").value("1");
      await expect.poll(() => rec.events).toEqual(["put c/1=1"]);

      await cluster.stopMember(0);
      for (let i = 2; i <= 5; i++) await writer.client.put(`/w/c/${i}`).value(String(i));
      const rev = Number((await writer.client.get("/w/c/5").exec()).header.revision);
      await writer.client.kv.compact({ revision: rev, physical: true });
      await cluster.restartMember(0);

      // The first listing, and the one after the compaction.
      await expect.poll(() => rec.resyncs, { timeout: 15_000 }).toBe(2);
      expect(w.resyncs).toBe(1);
      expect(rec.listed).toEqual(["c/0=start", "c/1=1", "c/2=2", "c/3=3", "c/4=4", "c/5=5"]);
      // And it watches again from the new listing.
      await writer.client.put("/w/c/after").value("yes");
      await expect.poll(() => rec.events.at(-1), { timeout: 10_000 }).toBe("put c/after=yes");
      expect(w.resyncs).toBe(1);
      await w.close();
    } finally {
      watching.close();
      writer.close();
      await cluster.stop();
    }
  }, 60_000);
});
