/**
 * A host dies (kill -9 of its systemd: the whole host, fleetd included, at once), on 3 real
 * hosts running fleetd as a service with agent_ttl=3s (needs root). Its units must run
 * elsewhere, each exactly once, and the dead machine must leave `machines/`.
 *
 * The failover time is measured from systemd's own timestamps (ActiveEnterTimestampMonotonic
 * on the host that took the unit over) against the kill, on one clock. It is printed; the
 * assertion is only a correctness bound that a loaded 2-core machine cannot break (the lease
 * cannot expire before what etcd said was left of it at the kill, so an earlier move would be
 * a bug; later than agent_ttl + 15 s means the failover is stuck). The precise figure is
 * bench/failover.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../../agent/logging/logger.js";
import { Registry } from "../../agent/registry/registry.js";
import { type EtcdCluster, startEtcd } from "../harness/etcd.js";
import {
  activeOn,
  bootFleetHosts,
  leaderHost,
  monotonicUs,
  nowMonotonicUs,
  placedOn,
  registered,
  unit,
} from "../harness/fleet-hosts.js";
import type { Cluster } from "../harness/hosts.js";

const TTL_S = 3;
const UNITS = ["k1.service", "k2.service", "k3.service", "k4.service", "k5.service", "k6.service"];
let etcd: EtcdCluster;
let cluster: Cluster;
let registry: Registry;

beforeAll(async () => {
  etcd = await startEtcd();
  cluster = await bootFleetHosts({
    count: 3,
    conf: (i) =>
      `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=/kill/\nagent_ttl=${TTL_S}s\nmetadata=host=h${i}\npublic_ip=10.9.9.${i + 1}\n`,
  });
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/kill/", log: memoryLogger() });
}, 120_000);

afterAll(async () => {
  registry?.close();
  await cluster?.teardown();
  await etcd?.stop();
});

const T = { timeout: 60_000, interval: 100 };

describe("(root) a host killed", () => {
  it("(root) its units run elsewhere, once each, after its lease expires; it leaves machines/", async () => {
    await expect.poll(() => registered(registry, cluster), T).toEqual([0, 1, 2]);
    for (const name of UNITS) {
      await registry.units.create(unit(name, "[Service]\nExecStart=/bin/sleep 100000\n"));
    }
    for (const name of UNITS) await expect.poll(() => activeOn(cluster, name), T).toHaveLength(1);

    // The victim is a host that runs units and does not lead (a killed leader adds its own
    // lease's TTL: leader-kill.root.test.ts).
    const leader = await leaderHost(registry, cluster);
    const placement = new Map<string, number>();
    for (const name of UNITS)
      placement.set(name, (await placedOn(registry, cluster, name))[0] ?? -1);
    const victim = [0, 1, 2].find(
      (i) => i !== leader && [...placement.values()].includes(i),
    ) as number;
    expect(victim).toBeGreaterThanOrEqual(0);
    const moved = UNITS.filter((n) => placement.get(n) === victim);
    expect(moved.length).toBeGreaterThan(0);

    // What etcd says is left of the victim's lease just before the kill (whole seconds, rounded
    // down): no other host may start its units before that.
    const machineKey = await registry.kv.get(
      registry.keys.machine(cluster.hosts[victim]?.machineId ?? ""),
    );
    const askedAt = nowMonotonicUs();
    const left = await registry.client.leaseClient.leaseTimeToLive({
      ID: machineKey?.lease ?? "0",
    });
    const earliestUs = askedAt + Number(left.TTL) * 1e6;
    const killedAt = nowMonotonicUs();
    await cluster.killHost(victim);

    for (const name of moved) {
      await expect.poll(async () => (await activeOn(cluster, name)).length, T).toBe(1);
    }
    const took: number[] = [];
    for (const name of moved) {
      const [host] = await activeOn(cluster, name);
      expect(host).not.toBe(victim);
      const startedUs = await monotonicUs(
        cluster,
        host as number,
        name,
        "ActiveEnterTimestampMonotonic",
      );
      // Not before the dead host's lease could expire: that would be two copies of a live unit.
      expect(startedUs).toBeGreaterThanOrEqual(earliestUs);
      took.push((startedUs - killedAt) / 1e6);
    }
    const worst = Math.max(...took);
    console.log(
      `host kill → units active elsewhere: ${took.map((s) => s.toFixed(2)).join(", ")} s (agent_ttl ${TTL_S} s; fleet v1.0.0: 6.3 s at agent_ttl 5 s)`,
    );
    // Not stuck: a correctness bound, not the speed (that is bench/failover.ts).
    expect(worst).toBeLessThan(TTL_S + 15);

    // Every unit runs exactly once, on a live host, and the dead machine is gone from etcd.
    await expect
      .poll(() => registered(registry, cluster), T)
      .toEqual([0, 1, 2].filter((i) => i !== victim));
    // Polled, not read once: at agent_ttl 3 s a stall on a surviving host may expire its lease
    // too, and the units then move once more before they settle; what must hold is that they
    // settle on exactly one live host each, where etcd places them.
    for (const name of UNITS) {
      await expect
        .poll(
          async () => {
            const on = await activeOn(cluster, name);
            const placed = await placedOn(registry, cluster, name);
            return on.length === 1 && JSON.stringify(placed) === JSON.stringify(on);
          },
          { ...T, message: `${name} active on exactly one live host, where etcd places it` },
        )
        .toBe(true);
    }
    // Its states went with its lease: list-units shows no copy on the dead host.
    for (const name of moved) {
      const [host] = await activeOn(cluster, name);
      await expect
        .poll(async () => (await registry.states.list(name)).states.map((s) => s.machineId), T)
        .toEqual([cluster.hosts[host as number]?.machineId]);
    }
  }, 120_000);
});
