/**
 * The engine leader's fleetd killed (SIGKILL; systemd restarts it a second later, as
 * fleet.service says), on 3 real hosts with agent_ttl=3s (needs root). Units submitted while
 * no engine leads are scheduled once a new leader is elected, which happens when the dead
 * leader's election key expires with its lease (≤ agent_ttl after its last keepalive). The
 * restarted fleetd takes its machine's lease back: nothing on that host is restarted.
 *
 * Times come from etcd's own revisions (the election key's deletion, the units' creation) and
 * are printed; the bound asserted on the election is generous (agent_ttl + 5 s) so that a
 * loaded 2-core machine cannot break it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../agent/logging/logger.js";
import { Registry } from "../../agent/registry/registry.js";
import type { WatchEvent } from "../../agent/registry/watch.js";
import { type EtcdCluster, startEtcd } from "../harness/etcd.js";
import type { Cluster } from "../harness/hosts.js";
import {
  activeOn,
  bootFleetHosts,
  fleetdPid,
  killFleetd,
  leaderHost,
  monotonicUs,
  nowMonotonicUs,
  placedOn,
  registered,
  show,
  unit,
} from "./fleet-hosts.js";

const TTL_S = 3;
const PREFIX = "/leader/";
let etcd: EtcdCluster;
let cluster: Cluster;
let registry: Registry;

beforeAll(async () => {
  etcd = await startEtcd();
  cluster = await bootFleetHosts({
    count: 3,
    conf: (i) =>
      `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=${PREFIX}\nagent_ttl=${TTL_S}s\nmetadata=host=h${i}\n`,
  });
  registry = new Registry({ endpoints: etcd.endpoints, prefix: PREFIX, log: memoryLogger() });
}, 120_000);

afterAll(async () => {
  registry?.close();
  await cluster?.teardown();
  await etcd?.stop();
});

const T = { timeout: 60_000, interval: 100 };

describe("(root) the engine leader killed", () => {
  it("(root) a new leader within agent_ttl; units submitted meanwhile are scheduled; nothing restarted", async () => {
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    await registry.units.create(unit("before.service", "[Service]\nExecStart=/bin/sleep 100000\n"));
    await expect.poll(() => activeOn(cluster, "before.service"), T).toHaveLength(1);
    // Wait until every engine campaigns, so that a successor is waiting.
    await expect
      .poll(async () => (await registry.kv.range(`${registry.keys.election}/`)).kvs.length, T)
      .toBe(3);
    const leader = await leaderHost(registry, cluster);
    expect(leader).toBeGreaterThanOrEqual(0);
    const [oldKey] = (await registry.kv.range(`${registry.keys.election}/`)).kvs.sort(
      (a, b) => a.createRevision - b.createRevision,
    );
    const pidsBefore = new Map<string, string>();
    const [runsBefore] = await activeOn(cluster, "before.service");
    pidsBefore.set(
      "before.service",
      await show(cluster, runsBefore as number, "before.service", "MainPID"),
    );
    const oldFleetd = await fleetdPid(cluster, leader);

    const elections: { event: WatchEvent; at: number }[] = [];
    const watch = await registry.watch(`${registry.keys.election}/`, {
      onResync: () => {},
      onEvents: (events) => {
        for (const event of events) elections.push({ event, at: performance.now() });
      },
    });
    const killedAt = performance.now();
    const killedAtUs = nowMonotonicUs();
    await killFleetd(cluster, leader);
    const pending = ["p1.service", "p2.service", "p3.service"];
    for (const name of pending) {
      await registry.units.create(unit(name, "[Service]\nExecStart=/bin/sleep 100000\n"));
    }
    for (const name of pending) await expect.poll(() => activeOn(cluster, name), T).toHaveLength(1);
    await watch.close();
    let lastStartUs = 0;
    for (const name of pending) {
      const [host] = await activeOn(cluster, name);
      const us = await monotonicUs(cluster, host as number, name, "ActiveEnterTimestampMonotonic");
      lastStartUs = Math.max(lastStartUs, us);
    }
    console.log(
      `leader killed → the units submitted meanwhile all running: ${((lastStartUs - killedAtUs) / 1e6).toFixed(2)} s`,
    );

    // Submitted while nobody led: created before the dead leader's key went away.
    const deleted = elections.find((e) => e.event.type === "delete" && e.event.key === oldKey?.key);
    expect(deleted).toBeDefined();
    for (const name of pending) {
      const created = await registry.kv.get(registry.keys.unit(name));
      expect(created?.createRevision).toBeLessThan(deleted?.event.modRevision ?? 0);
    }
    const tookS = ((deleted?.at ?? 0) - killedAt) / 1000;
    console.log(
      `leader killed → its election key gone (a new leader): ${tookS.toFixed(2)} s (agent_ttl ${TTL_S} s)`,
    );
    expect(tookS).toBeLessThan(TTL_S + 5);
    const newLeader = await leaderHost(registry, cluster);
    expect(newLeader).toBeGreaterThanOrEqual(0);

    // The killed fleetd came back (Restart=always) with its machine's lease: the unit that ran
    // before runs on, where it was, with the same process.
    await expect.poll(() => fleetdPid(cluster, leader), T).not.toBe(oldFleetd);
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    expect(await activeOn(cluster, "before.service")).toEqual([runsBefore]);
    expect(await show(cluster, runsBefore as number, "before.service", "MainPID")).toBe(
      pidsBefore.get("before.service"),
    );
    for (const name of [...pending, "before.service"]) {
      expect(await placedOn(registry, cluster, name)).toEqual(await activeOn(cluster, name));
    }
  }, 120_000);
});
