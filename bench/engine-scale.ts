/**
 * Cluster-state benchmarks (issue: cluster state in etcd). Run: npx tsx bench/engine-scale.ts
 * Env: MACHINES=1000 UNITS=10000 STEADY_SECONDS=300 TTL=10
 *
 * A real etcd (tmpfs data dir), the leader engine in its own process (its RSS is measured
 * alone), and MACHINES HOLLOW agents (real presence, leases and watches; in-memory systemd) in
 * this process. Measures:
 * 1. time from the last submit until every unit is scheduled, and the leader's RSS;
 * 2. a steady state: etcd writes (revisions) and requests per minute while nothing changes;
 * 3. one unit scheduled: how many agents are woken by a watch event;
 * 4. a machine lost: time from its lease expiring until its units are scheduled elsewhere.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { memoryLogger } from "../agent/logging/logger.js";
import type { UnitRecord } from "../agent/registry/codecs.js";
import { Registry } from "../agent/registry/registry.js";
import { startEtcd } from "../test/harness/etcd.js";
import { serializeUnitFile, unitHash } from "../units/unit-file.js";
import type { UnitOption } from "../units/unit-option.js";
import { HollowAgent } from "./hollow/hollow-agent.js";

const MACHINES = Number(process.env.MACHINES ?? 1000);
const UNITS = Number(process.env.UNITS ?? 10_000);
const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 300);
const TTL = Number(process.env.TTL ?? 10);
const CLIENTS = 10;
const PREFIX = "/bench/";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Messages etcd received (unary calls and stream messages alike), all and by method. */
/** CPU seconds (user + system) the process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

async function etcdCounters(endpoint: string): Promise<{ requests: number; keepalives: number }> {
  const text = await (await fetch(`${endpoint}/metrics`)).text();
  let requests = 0;
  let keepalives = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("grpc_server_msg_received_total{")) continue;
    const n = Number(line.split(" ").pop());
    requests += n;
    if (line.includes('grpc_method="LeaseKeepAlive"')) keepalives += n;
  }
  return { requests, keepalives };
}

function unitFor(i: number): UnitRecord {
  const kind = i % 10;
  const group = Math.floor(i / 10) % 100;
  const name = kind < 2 ? `web-${group}@${i}.service` : `app-${i}.service`;
  const options: UnitOption[] = [
    { section: "Unit", name: "Description", value: `unit ${i}` },
    { section: "Service", name: "ExecStart", value: "/bin/sleep infinity" },
  ];
  if (kind < 2)
    options.push({ section: "X-Fleet", name: "Conflicts", value: `web-${group}@*.service` });
  serializeUnitFile(options);
  return { name, options, hash: unitHash(options), desiredState: "launched" };
}

async function main(): Promise<void> {
  log(`etcd, leader, ${MACHINES} hollow machines, ${UNITS} units, TTL ${TTL}s`);
  const etcd = await startEtcd({ extraArgs: ["--quota-backend-bytes=4294967296"] });
  const endpoint = etcd.endpoints[0] as string;
  const children: ChildProcess[] = [];
  const clients: Etcd3[] = [];
  const agents: HollowAgent[] = [];
  try {
    const r = new Registry({
      endpoints: etcd.endpoints,
      prefix: PREFIX,
      log: memoryLogger("warn"),
    });
    for (let i = 0; i < CLIENTS; i++) clients.push(new Etcd3({ hosts: etcd.endpoints }));

    const t0 = performance.now();
    for (let i = 0; i < MACHINES; i += 100) {
      const batch = Array.from({ length: Math.min(100, MACHINES - i) }, (_, j) => {
        const id = (i + j + 1).toString(16).padStart(32, "0");
        return new HollowAgent(clients[(i + j) % CLIENTS] as Etcd3, r.keys, id, TTL);
      });
      await Promise.all(batch.map((a) => a.start()));
      agents.push(...batch);
    }
    log(
      `${MACHINES} hollow agents registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const script = fileURLToPath(new URL("../test/harness/engine-process.ts", import.meta.url));
    const leader = spawn(
      process.execPath,
      ["--import", "tsx", script, etcd.endpoints.join(","), PREFIX, "f".repeat(32), String(TTL)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(leader);
    let leaderOut = "";
    leader.stdout?.on("data", (d: Buffer) => {
      leaderOut = (leaderOut + d.toString()).slice(-20_000);
    });
    while (!leaderOut.includes("elected engine leader")) await sleep(50);
    await sleep(500);
    const leaderPid = leader.pid as number;
    log(`leader elected; RSS ${rssMb(leaderPid).toFixed(0)} MB`);

    // 1. Submit every unit, then wait until all are scheduled.
    const units = Array.from({ length: UNITS }, (_, i) => unitFor(i));
    const tSubmit0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < units.length) {
          const u = units[next++] as UnitRecord;
          await r.units.create(u);
        }
      }),
    );
    const tLastSubmit = performance.now();
    let peakRss = rssMb(leaderPid);
    for (;;) {
      const count = await clients[0]?.getAll().prefix(r.keys.schedulePrefix()).count();
      peakRss = Math.max(peakRss, rssMb(leaderPid));
      if (count === UNITS) break;
      await sleep(25);
    }
    const tScheduled = performance.now();
    const submitS = (tLastSubmit - tSubmit0) / 1000;
    const afterLastS = (tScheduled - tLastSubmit) / 1000;
    log(
      `submitted ${UNITS} units in ${submitS.toFixed(2)} s; all scheduled ${afterLastS.toFixed(2)} s after the last submit; leader RSS peak ${peakRss.toFixed(0)} MB`,
    );
    while (agents.reduce((n, a) => n + a.systemd.size, 0) < UNITS) await sleep(50);
    log("every hollow agent runs what it was given");

    // 2. Steady state.
    await sleep(2000);
    const revBefore = Number((await r.client.get("x").exec()).header.revision);
    const reqBefore = await etcdCounters(endpoint);
    const statesBefore = agents.reduce((n, a) => n + a.statesWritten, 0);
    const cpuBefore = cpuSeconds(leaderPid);
    await sleep(STEADY_SECONDS * 1000);
    const revAfter = Number((await r.client.get("x").exec()).header.revision);
    const reqAfter = await etcdCounters(endpoint);
    const statesAfter = agents.reduce((n, a) => n + a.statesWritten, 0);
    const leaderCpuPerMin = (cpuSeconds(leaderPid) - cpuBefore) / (STEADY_SECONDS / 60);
    const minutes = STEADY_SECONDS / 60;
    const reqPerMin = (reqAfter.requests - reqBefore.requests) / minutes;
    const keepalivesPerMin = (reqAfter.keepalives - reqBefore.keepalives) / minutes;
    log(
      `steady ${STEADY_SECONDS}s: ${revAfter - revBefore} etcd writes (revisions), ${statesAfter - statesBefore} state writes, ${reqPerMin.toFixed(0)} etcd requests/min (of which lease keepalives ${keepalivesPerMin.toFixed(0)}/min); leader RSS ${rssMb(leaderPid).toFixed(0)} MB`,
    );

    // 3. One unit scheduled: which agents wake up?
    for (const a of agents) a.watchBatches = 0;
    const one = unitFor(UNITS + 1);
    await r.units.create({ ...one, name: "one-more.service" });
    for (;;) {
      const placed = await r.kv.range(r.keys.placementPrefix("one-more.service"));
      if (placed.kvs.length > 0) break;
      await sleep(10);
    }
    await sleep(1000);
    const woken = agents.filter((a) => a.watchBatches > 0).length;
    log(`one unit scheduled: ${woken} agent(s) received a watch event`);

    // 4. A machine lost.
    const victim = agents.reduce((best, a) => (a.systemd.size > best.systemd.size ? a : best));
    const victimUnits = victim.systemd.names();
    let expiredAt = 0;
    const w = await r.client.watch().key(r.keys.machine(victim.machineId)).create();
    w.on("delete", () => {
      expiredAt = performance.now();
    });
    await victim.crash();
    while (expiredAt === 0) await sleep(5);
    let movedAt = 0;
    for (;;) {
      const snap = await Promise.all(
        victimUnits.map((u) =>
          r.kv.range(r.keys.placementPrefix(u)).then((res) => res.kvs.map((kv) => kv.key)),
        ),
      );
      if (
        snap.every((keys) => keys.length > 0 && keys.every((k) => !k.endsWith(victim.machineId)))
      ) {
        movedAt = performance.now();
        break;
      }
      await sleep(5);
    }
    await w.cancel();
    log(
      `machine lost with ${victimUnits.length} units: rescheduled ${((movedAt - expiredAt) / 1000).toFixed(3)} s after its lease expired`,
    );

    console.log(
      JSON.stringify({
        machines: MACHINES,
        units: UNITS,
        submitSeconds: submitS,
        scheduledAfterLastSubmitSeconds: afterLastS,
        leaderPeakRssMb: Math.round(peakRss),
        steadySeconds: STEADY_SECONDS,
        steadyEtcdWrites: revAfter - revBefore,
        steadyEtcdRequestsPerMinute: Math.round(reqPerMin),
        steadyKeepalivesPerMinute: Math.round(keepalivesPerMin),
        steadyLeaderCpuSecondsPerMinute: Number(leaderCpuPerMin.toFixed(3)),
        leaderRssAfterSteadyMb: Math.round(rssMb(leaderPid)),
        oneUnitAgentsWoken: woken,
        machineLossUnits: victimUnits.length,
        machineLossRescheduleSeconds: (movedAt - expiredAt) / 1000,
      }),
    );
    r.close();
  } finally {
    try {
      for (const c of children) c.kill("SIGKILL");
      // Bounded: a watch cancel can wait on an etcd that is going away.
      await Promise.race([Promise.all(agents.map((a) => a.crash().catch(() => {}))), sleep(5000)]);
      for (const c of clients) c.close();
    } finally {
      await etcd.stop();
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
