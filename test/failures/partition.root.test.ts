/**
 * A host cut off from the network (its link on the test bridge taken down; needs root and
 * network namespaces). Three hosts run fleetd as a service with agent_ttl=10s, reaching etcd on
 * the bridge (bridge-etcd.ts):
 *
 * - h0 leads (the only engine) and is never cut;
 * - h1 runs with the default: cut off, it keeps its copies running; its units are rescheduled;
 *   when it comes back it stops the copies that are no longer its own;
 * - h2 runs with `at_most_once=true`: cut off, it stops its non-global units before its lease
 *   can expire, so the other host starts them only after they are gone here. Checked with
 *   systemd's own timestamps on both hosts (InactiveEnter on the cut host before ActiveEnter on
 *   the other, CLOCK_MONOTONIC µs, shared by all hosts of this machine), not by polling.
 *
 * Each test submits its own units. agent_ttl is 10 s, not 3 s: what is asserted is which copy
 * runs where and in which order, not how fast; every host's etcd traffic passes through this
 * process's relay, and at 3 s one ~2 s stall of it or of a fleetd on a loaded 2-core machine
 * expires a lease (or fences an at_most_once host) before the cut.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../agent/logging/logger.js";
import { Registry } from "../../agent/registry/registry.js";
import { type EtcdCluster, startEtcd } from "../harness/etcd.js";
import {
  activeOn,
  bootFleetHosts,
  journalMonotonicUs,
  monotonicUs,
  nowMonotonicUs,
  placedOn,
  registered,
  show,
  UNIT_STOPPED,
  unit,
} from "../harness/fleet-hosts.js";
import type { Cluster } from "../harness/hosts.js";
import { type BridgeEtcd, exposeEtcdOnBridge } from "./bridge-etcd.js";

const TTL_S = 10;
let etcd: EtcdCluster;
let bridgeEtcd: BridgeEtcd | undefined;
let cluster: Cluster;
let registry: Registry;

const CONF: Record<number, string> = {
  0: "metadata=role=ctl\n",
  1: "metadata=a=yes\ndisable_engine=true\n",
  2: "metadata=b=yes\ndisable_engine=true\nat_most_once=true\n",
};

beforeAll(async () => {
  etcd = await startEtcd();
  // The hosts' fleet.conf names etcd on the bridge: known before boot (TEST_SUBNET.1:2379).
  let url = "";
  cluster = await bootFleetHosts({
    count: 3,
    netns: true,
    conf: (i) =>
      `etcd_servers=http://10.254.77.1:2379\netcd_key_prefix=/cut/\nagent_ttl=${TTL_S}s\n${CONF[i]}`,
  });
  bridgeEtcd = await exposeEtcdOnBridge(cluster, etcd.endpoints[0] ?? "");
  url = bridgeEtcd.url;
  expect(url).toBe("http://10.254.77.1:2379");
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/cut/", log: memoryLogger() });
}, 120_000);

afterAll(async () => {
  registry?.close();
  await cluster?.teardown();
  await bridgeEtcd?.close();
  await etcd?.stop();
});

const T = { timeout: 60_000, interval: 100 };
const mainPid = (i: number, name: string) => show(cluster, i, name, "MainPID");
const machineId = (i: number) => cluster.hosts[i]?.machineId ?? "";

describe("(root) a host cut off from the network", () => {
  it("(root) default: its units are rescheduled; back, it stops its stale copies", async () => {
    // fleetd in each host reaches etcd only through the bridge; it may retry until the relay is up.
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    await registry.units.create(
      unit(
        "a.service",
        "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineMetadata=a=yes\n",
      ),
    );
    await registry.units.create(
      unit("g.service", "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nGlobal=true\n"),
    );
    await expect.poll(() => activeOn(cluster, "a.service"), T).toEqual([1]);
    await expect.poll(() => activeOn(cluster, "g.service"), T).toEqual([0, 1, 2]);
    // h2 may take a.service now, but a placed unit stays where it is until its host goes.
    await registry.machines.patchMetadata(machineId(2), [{ op: "add", key: "a", value: "yes" }]);
    const cutPid = await mainPid(1, "a.service");

    await cluster.cutNetwork(1);
    await expect.poll(() => activeOn(cluster, "a.service"), T).toEqual([1, 2]);
    // Without at_most_once the cut-off copy kept running (fleet's behaviour, and the default).
    expect(await mainPid(1, "a.service")).toBe(cutPid);
    const movedPid = await mainPid(2, "a.service");

    const healedAt = nowMonotonicUs();
    await cluster.healNetwork(1);
    await expect.poll(() => activeOn(cluster, "a.service"), T).toEqual([2]);
    await expect.poll(() => show(cluster, 1, "a.service", "LoadState"), T).toBe("not-found");
    const staleGoneUs = await journalMonotonicUs(cluster, 1, "a.service", UNIT_STOPPED);
    expect(staleGoneUs).toBeGreaterThan(healedAt);
    console.log(
      `stale copy stopped ${((staleGoneUs - healedAt) / 1e6).toFixed(2)} s after the heal`,
    );
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    // The copy that took over was not bounced by the return of the old one.
    expect(await mainPid(2, "a.service")).toBe(movedPid);
    expect(await placedOn(registry, cluster, "a.service")).toEqual([2]);
    await expect
      .poll(async () => (await registry.states.list("a.service")).states.map((s) => s.machineId), T)
      .toEqual([machineId(2)]);
    // The global unit runs on h1 again after its return (and never stopped on the others).
    await expect.poll(() => activeOn(cluster, "g.service"), T).toEqual([0, 1, 2]);
  }, 120_000);

  it("(root) at_most_once: the cut-off host stops its units before the other host starts them", async () => {
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    // Units of this test only: two that only h2 may take (b=yes), one global.
    const fenced = ["f1.service", "f2.service"];
    for (const name of fenced) {
      await registry.units.create(
        unit(name, "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineMetadata=b=yes\n"),
      );
    }
    await registry.units.create(
      unit("fg.service", "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nGlobal=true\n"),
    );
    for (const name of fenced) await expect.poll(() => activeOn(cluster, name), T).toEqual([2]);
    await expect.poll(() => activeOn(cluster, "fg.service"), T).toEqual([0, 1, 2]);
    // h1 may take them now, but a placed unit stays where it is until its host goes.
    await registry.machines.patchMetadata(machineId(1), [{ op: "add", key: "b", value: "yes" }]);
    const globalPid = await mainPid(2, "fg.service");

    const cutAt = nowMonotonicUs();
    await cluster.cutNetwork(2);
    for (const name of fenced) {
      await expect.poll(() => activeOn(cluster, name), T).toEqual([1]);
    }
    for (const name of fenced) {
      // From the cut host's journal: systemd forgets a stopped unit's timestamps when it
      // unloads it from memory, the journal keeps them.
      const goneUs = await journalMonotonicUs(cluster, 2, name, UNIT_STOPPED);
      const startedUs = await monotonicUs(cluster, 1, name, "ActiveEnterTimestampMonotonic");
      expect(goneUs).toBeGreaterThan(cutAt);
      expect(startedUs).toBeGreaterThan(goneUs);
      console.log(
        `${name}: stopped on the cut host ${((goneUs - cutAt) / 1e6).toFixed(2)} s after the cut, started elsewhere ${((startedUs - cutAt) / 1e6).toFixed(2)} s after it`,
      );
    }
    // The global unit is not fenced: it runs everywhere anyway, so this copy is never a second one.
    expect(await mainPid(2, "fg.service")).toBe(globalPid);
    expect(await show(cluster, 2, "fg.service", "ActiveState")).toBe("active");

    await cluster.healNetwork(2);
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    for (const name of fenced) {
      await expect.poll(() => show(cluster, 2, name, "LoadState"), T).toBe("not-found");
      expect(await activeOn(cluster, name)).toEqual([1]);
      expect(await placedOn(registry, cluster, name)).toEqual([1]);
    }
    await expect.poll(() => activeOn(cluster, "fg.service"), T).toEqual([0, 1, 2]);
  }, 120_000);
});
