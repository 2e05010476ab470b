/**
 * fleet v1.0.0 and fleet-ts side by side, in one run, through fleet's own measurement harness
 * (../shared/tools/harness/bench-fleet.sh) and fleet's own fleetctl: the same hosts recipe, the
 * same scenarios, the same observation (list-units polls, cgroup process counts, etcd's
 * /metrics), first with fleet's fleetd, then with ours swapped in through FLEETD_BIN, then ours
 * again driven by our own fleetctl (OWN_FLEETCTL=0 skips that run). Prints one markdown table
 * of medians and ratios.
 *
 * In the third run the commands that change the cluster (start, destroy, ...) are fleet-ts's
 * fleetctl (dist/cli/fleetctl.js) and the harness's list-units polls stay fleet's Go fleetctl,
 * so that the observation costs the same in all three runs.
 *
 * Run by hand, as root, after `make build` (it reads ../shared, which the project's tests never do):
 *   npx tsx bench/side-by-side.ts                         scenarios a b c (start/destroy)
 *   SCENARIOS="e30 e5 f" REPS=3 npx tsx bench/side-by-side.ts   failover and 300 units
 * fleet-ts's own figures, without fleet, come from bench/agent-real.ts and bench/failover.ts.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const HARNESS = path.join(REPO, "..", "shared", "tools", "harness", "bench-fleet.sh");
const OURS = path.join(REPO, "dist", "agent", "main.js");
const OUR_FLEETCTL = path.join(REPO, "dist", "cli", "fleetctl.js");
const FLEET_FLEETCTL = path.join(REPO, "..", "shared", "tools", "fleetctl-v1.0.0");

/** A fleetctl for the harness: ours for the commands that change the cluster, fleet's for reads. */
function ownFleetctlWrapper(dir: string): string {
  const file = path.join(dir, "fleetctl-own");
  writeFileSync(
    file,
    [
      "#!/bin/sh",
      'case "$1" in',
      `  start|stop|load|unload|submit|destroy) exec ${process.execPath} ${OUR_FLEETCTL} "$@" ;;`,
      `  *) exec ${FLEET_FLEETCTL} "$@" ;;`,
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return file;
}

/**
 * The figures worth a row: [scenario, metric, label]; lower is better for all of them. Not the
 * harness's "after the machine key is gone" nor its leader-kill runs (eL30, eL5): it reads
 * those from fleet's etcd v2 keys, which fleet-ts does not have, so for fleet-ts they measure
 * nothing (bench/failover.ts and test/failures/leader-kill measure ours).
 */
const ROWS: readonly (readonly [string, string, string])[] = [
  ["a", "latency_s", "a: start 1 unit → active/running (s)"],
  ["a", "fleetctl_start_s", "a: the fleetctl start command itself (s)"],
  ["b", "latency_s", "b: start 30 template instances → all running (s)"],
  ["b", "fleetctl_start_s", "b: the fleetctl start command itself (s)"],
  ["c", "latency_s", "c: 3 global units → running on 3 hosts (s)"],
  ["c", "fleetctl_start_s", "c: the fleetctl start command itself (s)"],
  ["d.a", "latency_s", "d.a: destroy 1 unit → gone (s)"],
  ["d.b", "latency_s", "d.b: destroy 30 units → gone (s)"],
  ["d.c", "latency_s", "d.c: destroy 3 global units → gone (s)"],
  ["e30", "failover_s", "e30: host killed, agent_ttl 30 s → its units active elsewhere (s)"],
  ["e5", "failover_s", "e5: host killed, agent_ttl 5 s → its units active elsewhere (s)"],
  ["f.ramp", "latency_s", "f: 300 units started in 6 batches → all running (s)"],
  ["d.f", "latency_s", "d.f: destroy 300 units → gone (s)"],
  ["f.loaded", "h1_fleetd_cpu_s_per_min", "f: 300 units running, fleetd CPU h1 (CPU-s/min)"],
  ["f.loaded", "h2_fleetd_cpu_s_per_min", "f: 300 units running, fleetd CPU h2 (CPU-s/min)"],
  ["f.loaded", "h3_fleetd_cpu_s_per_min", "f: 300 units running, fleetd CPU h3 (CPU-s/min)"],
  ["f.loaded", "h1_fleetd_rss_mb", "f: 300 units running, fleetd RSS h1 (MB)"],
  ["f.loaded", "etcd_cpu_s_per_min", "f: 300 units running, etcd CPU (CPU-s/min)"],
];

/**
 * The same starts measured from fleetctl's last start request instead of from the moment it was
 * run: the harness's latency minus the time fleetctl took to return (it returns on the answer to
 * that request), per repetition. fleet's fleetctl
 * waits 250 ms for every unit it creates to report "inactive", then reads and launches the
 * units one request after another; the start targets count from the start request.
 */
const AFTER_FLEETCTL: readonly (readonly [string, string])[] = [
  ["a", "a: start 1 unit, from fleetctl's start request → active/running (s)"],
  ["b", "b: start 30 instances, from fleetctl's last start request → all running (s)"],
  ["c", "c: 3 global units, from fleetctl's last start request → running on 3 hosts (s)"],
];

/** etcd request counters summed per scenario, both APIs: fleet speaks v2, fleet-ts v3. */
const ETCD_REQUESTS = ["etcd_http_get", "etcd_http_put", "etcd_http_delete", "etcd_http_post"];
const ETCD_V3 = "etcd_grpc_calls";

type Raw = Map<string, number[]>;

function readRaw(file: string): Raw {
  const raw: Raw = new Map();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [scenario, , metric, value] = line.split("\t");
    const v = Number(value);
    if (scenario === undefined || metric === undefined || !Number.isFinite(v)) continue;
    const key = `${scenario}\t${metric}`;
    raw.set(key, [...(raw.get(key) ?? []), v]);
  }
  return raw;
}

function run(label: string, out: string, env: NodeJS.ProcessEnv): Promise<void> {
  process.stderr.write(`[side-by-side] ${label}: ${HARNESS} → ${out}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [HARNESS], {
      env: { ...process.env, ...env, OUT: out, LABEL: label },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${label}: bench-fleet.sh exited ${code}`)),
    );
  });
}

function med(raw: Raw, scenario: string, metric: string): number | undefined {
  const v = raw.get(`${scenario}\t${metric}`);
  return v === undefined || v.length === 0 ? undefined : median(v);
}

function afterFleetctl(raw: Raw, scenario: string): number | undefined {
  const total = raw.get(`${scenario}\tlatency_s`) ?? [];
  const client = raw.get(`${scenario}\tfleetctl_start_s`) ?? [];
  const n = Math.min(total.length, client.length);
  if (n === 0) return undefined;
  return median(Array.from({ length: n }, (_, i) => (total[i] as number) - (client[i] as number)));
}

function etcdRequests(raw: Raw, scenario: string): number | undefined {
  const parts = [...ETCD_REQUESTS, ETCD_V3].map((m) => med(raw, scenario, m));
  if (parts.every((p) => p === undefined)) return undefined;
  return parts.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** fleet's figure over ours: how many times faster (or smaller) fleet-ts is. */
const ratioOf = (fleet: number | undefined, ours: number | undefined) =>
  fleet !== undefined && ours !== undefined && ours > 0 ? `${(fleet / ours).toFixed(1)}×` : "—";

const fmt = (v: number | undefined) =>
  v === undefined ? "—" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);

async function main(): Promise<void> {
  if (!existsSync(HARNESS)) throw new Error(`${HARNESS} not found: this benchmark needs ../shared`);
  for (const built of [OURS, OUR_FLEETCTL])
    if (!existsSync(built)) throw new Error(`${built} not found: run make build first`);
  const dir = mkdtempSync(path.join(tmpdir(), "side-by-side-"));
  const scenarios = process.env.SCENARIOS ?? "a b c";
  const common = { SCENARIOS: scenarios, REPS: process.env.REPS ?? "3" };
  const oursBin = `${process.execPath} --max-semi-space-size=1 --v8-pool-size=0 ${OURS}`;
  const own = process.env.OWN_FLEETCTL !== "0";
  await run("fleet-v1.0.0", path.join(dir, "fleet"), common);
  await run("fleet-ts", path.join(dir, "fleet-ts"), { ...common, FLEETD_BIN: oursBin });
  if (own)
    await run("fleet-ts-own-fleetctl", path.join(dir, "fleet-ts-own"), {
      ...common,
      FLEETD_BIN: oursBin,
      FLEETCTL: ownFleetctlWrapper(dir),
    });
  const fleet = readRaw(path.join(dir, "fleet", "raw.tsv"));
  const ours = readRaw(path.join(dir, "fleet-ts", "raw.tsv"));
  const oursOwn: Raw = own ? readRaw(path.join(dir, "fleet-ts-own", "raw.tsv")) : new Map();

  const lines = [
    `Scenarios ${scenarios}, ${common.REPS} repetitions, medians (raw files in ${dir}).`,
    "",
    "| figure | fleet v1.0.0 | fleet-ts | ratio | fleet-ts, its own fleetctl | ratio |",
    "|---|---|---|---|---|---|",
  ];
  /** One table row, unless no run has the figure. */
  const row = (label: string, at: (raw: Raw) => number | undefined) => {
    const [a, b, c] = [fleet, ours, oursOwn].map(at);
    if (a !== undefined || b !== undefined || c !== undefined)
      lines.push(
        `| ${label} | ${fmt(a)} | ${fmt(b)} | ${ratioOf(a, b)} | ${fmt(c)} | ${ratioOf(a, c)} |`,
      );
  };
  for (const [scenario, metric, label] of ROWS) row(label, (raw) => med(raw, scenario, metric));
  for (const [scenario, label] of AFTER_FLEETCTL) row(label, (raw) => afterFleetctl(raw, scenario));
  const scenarioNames = new Set([...fleet.keys(), ...ours.keys()].map((k) => k.split("\t")[0]));
  for (const s of scenarioNames) {
    if (s === undefined) continue;
    row(`${s}: etcd requests (v2 HTTP + v3 gRPC, incl. the harness's polls)`, (raw) =>
      etcdRequests(raw, s),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`side-by-side: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
