/**
 * fleet-ts on real hosts (issue: the agent drives real systemd). Run as root after `make build`:
 *   npx tsx bench/agent-real.ts          (env RUNS=3 STEADY_SECONDS=60)
 * Env NODE_FLAGS: node's flags for fleetd (default as in fleet.service).
 * Boots 3 hosts (real systemd 252), each running fleetd (dist/agent/main.js) as a systemd
 * service configured by /etc/fleet/fleet.conf, and one etcd (tmpfs). The API and fleetctl do
 * not exist yet: each scenario starts with the registry write the API will make, and ends
 * when every unit's state in etcd (published by the agents from systemd's signals) says so.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../agent/logging/logger.js";
import type { UnitRecord } from "../agent/registry/codecs.js";
import { Registry } from "../agent/registry/registry.js";
import { startEtcd } from "../test/harness/etcd.js";
import { bootHosts } from "../test/harness/hosts.js";
import { parseUnitFile, unitHash } from "../units/unit-file.js";
import { fmt, median } from "./stats.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const RUNS = Number(process.env.RUNS ?? 3);
const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 60);
/** Node flags for fleetd, as fleet.service sets them (see agent/systemd-units/fleet.service). */
const NODE_FLAGS =
  process.env.NODE_FLAGS ?? "--max-semi-space-size=1 --v8-pool-size=0 --max-old-space-size=256";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function unit(name: string, text: string): UnitRecord {
  const options = [...parseUnitFile(text).options];
  return { name, options, hash: unitHash(options), desiredState: "launched" };
}

/** Machine PIDs of the fleetd processes, by the PID namespace of each host's systemd. */
function fleetdPids(hostPids: readonly number[]): number[] {
  const nsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/pid`);
  const wanted = hostPids.map(nsOf);
  const found: number[] = hostPids.map(() => 0);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("dist/agent/main.js")) continue;
      const i = wanted.indexOf(nsOf(Number(entry)));
      if (i >= 0) found[i] = Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const cpuSeconds = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const conf = `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=/fleet/\n`; // agent_ttl: the default 30 s, as fleet's baseline
  const service = `[Service]\nExecStart=/usr/bin/node ${NODE_FLAGS} ${REPO}/dist/agent/main.js\nKillMode=process\nRestart=always\n[Install]\nWantedBy=multi-user.target\n`;
  const cluster = await bootHosts({
    count: 3,
    binds: [REPO],
    files: (i) => ({
      "/etc/fleet/fleet.conf": `${conf}metadata=host=h${i}\n`,
      "/etc/systemd/system/fleet.service": service,
      "/etc/systemd/system/multi-user.target.wants/fleet.service": {
        symlink: "/etc/systemd/system/fleet.service",
      },
    }),
  });
  const r = new Registry({ endpoints: etcd.endpoints, prefix: "/fleet/", log: silentLogger });
  const results: Record<string, number[]> = {};
  const record = (k: string, ms: number) => {
    results[k] = [...(results[k] ?? []), ms];
    log(`${k}: ${fmt(ms)} ms`);
  };
  try {
    while ((await r.machines.list()).machines.length < 3) await sleep(50);
    log("3 fleetd registered");
    const running = async (names: readonly string[], perUnit = 1) => {
      const want = new Set(names);
      for (;;) {
        const { states } = await r.states.list();
        const n = states.filter(
          (s) => want.has(s.unit) && s.activeState === "active" && s.subState === "running",
        ).length;
        if (n >= names.length * perUnit) return;
        await sleep(5);
      }
    };
    const gone = async (names: readonly string[]) => {
      const want = new Set(names);
      for (;;) {
        const { states } = await r.states.list();
        if (!states.some((s) => want.has(s.unit))) return;
        await sleep(5);
      }
    };
    const destroyAll = (names: readonly string[]) =>
      Promise.all(names.map((n) => r.units.destroy(n)));
    const sleeper = "[Service]\nExecStart=/bin/sleep infinity\n";

    for (let run = 0; run < RUNS; run++) {
      let t = performance.now();
      await r.units.create(unit(`one-${run}.service`, sleeper));
      await running([`one-${run}.service`]);
      record("start 1 unit until active/running", performance.now() - t);
      await destroyAll([`one-${run}.service`]);
      await gone([`one-${run}.service`]);

      const instances = Array.from({ length: 30 }, (_, i) => `hello-${run}@${i + 1}.service`);
      t = performance.now();
      await Promise.all(instances.map((n) => r.units.create(unit(n, sleeper))));
      await running(instances);
      record("start 30 template instances until all running", performance.now() - t);
      t = performance.now();
      await destroyAll(instances);
      await gone(instances);
      record("destroy 30 units until gone", performance.now() - t);

      const globals = Array.from({ length: 3 }, (_, i) => `global-${run}-${i}.service`);
      t = performance.now();
      await Promise.all(
        globals.map((n) => r.units.create(unit(n, `${sleeper}[X-Fleet]\nGlobal=true\n`))),
      );
      await running(globals, 3);
      record("3 global units running on 3 hosts", performance.now() - t);
      await destroyAll(globals);
      await gone(globals);
    }

    const many = Array.from({ length: 300 }, (_, i) => `many@${i}.service`);
    await Promise.all(many.map((n) => r.units.create(unit(n, sleeper))));
    await running(many);
    log("300 units running");
    const hostPids = cluster.hosts.map((h) => h.pid);
    const pids = fleetdPids(hostPids);
    const cpu0 = pids.map(cpuSeconds);
    const rev0 = Number((await r.client.get("x").exec()).header.revision);
    await sleep(STEADY_SECONDS * 1000);
    const rev1 = Number((await r.client.get("x").exec()).header.revision);
    const cpuPerMin = pids.map(
      (p, i) => (cpuSeconds(p) - (cpu0[i] as number)) / (STEADY_SECONDS / 60),
    );
    const rss = pids.map(rssMb);
    const electionKeys = await r.client
      .getAll()
      .prefix(`${r.keys.election}/`)
      .sort("Create", "Ascend")
      .strings();
    const leaderId = Object.values(electionKeys)[0];
    const leaderIndex = cluster.hosts.findIndex((h) => h.machineId === leaderId);
    log(
      `300 running, ${STEADY_SECONDS} s: etcd writes ${rev1 - rev0}; CPU s/min ${cpuPerMin.map((c) => c.toFixed(3)).join(" ")} (leader h${leaderIndex}); RSS MB ${rss.map((m) => m.toFixed(0)).join(" ")}`,
    );

    const t = performance.now();
    await destroyAll(many);
    await gone(many);
    record("destroy 300 units until gone", performance.now() - t);

    const agentsCpu = cpuPerMin.filter((_, i) => i !== leaderIndex);
    console.log("| scenario | median | runs |");
    console.log("|---|---|---|");
    for (const [k, v] of Object.entries(results)) {
      console.log(`| ${k} | ${fmt(median(v))} ms | ${v.map(fmt).join(", ")} |`);
    }
    console.log(
      `| 300 units running: per-agent CPU (non-leaders) / leader CPU | ${agentsCpu.map((c) => c.toFixed(3)).join(", ")} / ${(cpuPerMin[leaderIndex] ?? Number.NaN).toFixed(3)} CPU-s per min | ${STEADY_SECONDS} s |`,
    );
    console.log(
      `| 300 units running: etcd writes per minute (whole cluster) | ${((rev1 - rev0) / (STEADY_SECONDS / 60)).toFixed(1)} | ${STEADY_SECONDS} s |`,
    );
    console.log(`| fleetd RSS with 300 units | ${rss.map((m) => m.toFixed(0)).join(", ")} MB | |`);
  } finally {
    r.close();
    await cluster.teardown();
    await etcd.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
