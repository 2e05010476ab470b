/**
 * Failover after a host dies, on real hosts (needs root):
 *   npx tsx bench/failover.ts            (env AGENT_TTLS=3,5 RUNS=3 UNITS=10)
 * Per agent_ttl and run: 3 fresh hosts running fleetd as a service (fleet.service from this
 * checkout, through tsx) and one etcd (tmpfs); UNITS units of `sleep`; then kill -9 of a host
 * that runs units and does not lead. Measured on one clock (CLOCK_MONOTONIC), from the kill to
 * systemd's ActiveEnterTimestamp of the last of its units on the hosts that took them over.
 * Also printed: how much of the dead host's lease was left at the kill (etcd's own answer,
 * whole seconds rounded down): failover = lease left + reaction. Medians of RUNS runs, as
 * fleet's baseline (FLEET-BASELINE.md: 23.2 s at agent_ttl 30 s, 6.26 s at 5 s, 10 units).
 */
import { silentLogger } from "../agent/logging/logger.js";
import { Registry } from "../agent/registry/registry.js";
import { startEtcd } from "../test/harness/etcd.js";
import {
  activeOn,
  bootFleetHosts,
  leaderHost,
  monotonicUs,
  nowMonotonicUs,
  placedOn,
  registered,
  unit,
} from "../test/harness/fleet-hosts.js";
import { median } from "./stats.js";

const TTLS = (process.env.AGENT_TTLS ?? "3,5").split(",").map(Number);
const RUNS = Number(process.env.RUNS ?? 3);
const UNITS = Number(process.env.UNITS ?? 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Run {
  readonly failoverS: number;
  readonly leaseLeftS: number;
  readonly moved: number;
}

async function once(ttl: number): Promise<Run> {
  const etcd = await startEtcd();
  const cluster = await bootFleetHosts({
    count: 3,
    conf: (i) =>
      `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=/bench/\nagent_ttl=${ttl}s\nmetadata=host=h${i}\n`,
  });
  const registry = new Registry({
    endpoints: etcd.endpoints,
    prefix: "/bench/",
    log: silentLogger,
  });
  try {
    await until(
      "3 machines",
      () => registered(registry, cluster),
      (r) => r.length === 3,
    );
    const names = Array.from({ length: UNITS }, (_, i) => `f${i + 1}.service`);
    for (const n of names) {
      await registry.units.create(unit(n, "[Service]\nExecStart=/bin/sleep 100000\n"));
    }
    for (const n of names)
      await until(
        n,
        () => activeOn(cluster, n),
        (a) => a.length === 1,
      );
    // A random phase of the keepalive cycle, as fleet's harness did.
    await sleep(Math.random() * ttl * 1000);
    const leader = await leaderHost(registry, cluster);
    const placement = new Map<string, number>();
    for (const n of names) placement.set(n, (await placedOn(registry, cluster, n))[0] ?? -1);
    const victim = [0, 1, 2].find((i) => i !== leader && [...placement.values()].includes(i));
    if (victim === undefined) throw new Error("no host runs units apart from the leader");
    const moved = names.filter((n) => placement.get(n) === victim);

    const key = await registry.kv.get(
      registry.keys.machine(cluster.hosts[victim]?.machineId ?? ""),
    );
    const left = await registry.client.leaseClient.leaseTimeToLive({ ID: key?.lease ?? "0" });
    const killedAt = nowMonotonicUs();
    await cluster.killHost(victim);
    let last = 0;
    for (const n of moved) {
      const [host] = await until(
        `${n} elsewhere`,
        () => activeOn(cluster, n),
        (a) => a.length === 1,
      );
      last = Math.max(
        last,
        await monotonicUs(cluster, host as number, n, "ActiveEnterTimestampMonotonic"),
      );
    }
    return {
      failoverS: (last - killedAt) / 1e6,
      leaseLeftS: Number(left.TTL),
      moved: moved.length,
    };
  } finally {
    registry.close();
    await cluster.teardown();
    await etcd.stop();
  }
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const ttl of TTLS) {
    const runs: Run[] = [];
    for (let r = 0; r < RUNS; r++) {
      const run = await once(ttl);
      log(
        `agent_ttl ${ttl}s run ${r + 1}: ${run.moved} units active elsewhere ${run.failoverS.toFixed(2)} s after the kill (lease left ${run.leaseLeftS} s)`,
      );
      runs.push(run);
    }
    const f = runs.map((r) => r.failoverS);
    const reaction = runs.map((r) => r.failoverS - r.leaseLeftS);
    rows.push(
      `| ${ttl} s | ${median(f).toFixed(2)} s | ${f.map((x) => x.toFixed(2)).join(" / ")} | ${median(reaction).toFixed(2)} s |`,
    );
  }
  process.stdout.write(
    `\n| agent_ttl | host killed → its units active elsewhere (median of ${RUNS}) | runs | minus lease left at the kill (median) |\n|---|---|---|---|\n${rows.join("\n")}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `failover: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
