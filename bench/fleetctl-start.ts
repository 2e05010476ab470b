/**
 * Our fleetctl's own `start` (blocking, as users run it: it returns when systemd reports the
 * units running) on 3 real hosts running fleetd as a service (needs root, and `make build`):
 *   npx tsx bench/fleetctl-start.ts          (env RUNS=3)
 * Timed from spawning `node dist/cli/fleetctl.js start ...` (node's start-up included) until it
 * exits 0, for 1 unit and for 30 instances of a local template; then `destroy` of them until it
 * exits. fleet v1.0.0's figures for the same scenarios are in FLEET-BASELINE.md (3.79 s and
 * 3.86 s until list-units shows them running, with its fleetctl and --no-block).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEtcd } from "../test/harness/etcd.js";
import { bootFleetHosts, REPO } from "../test/harness/fleet-hosts.js";
import { median } from "./stats.js";

const RUNS = Number(process.env.RUNS ?? 3);
const FLEETCTL = path.join(REPO, "dist", "cli", "fleetctl.js");

function fleetctl(endpoint: string, cwd: string, args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [FLEETCTL, "--endpoint", endpoint, ...args],
      { cwd, timeout: 120_000 },
      (err, _out, stderr) => {
        if (err) reject(new Error(`fleetctl ${args.join(" ")} failed: ${stderr || err.message}`));
        else resolve((performance.now() - t0) / 1000);
      },
    );
  });
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const dir = mkdtempSync(path.join(tmpdir(), "fleetctl-start-"));
  const cluster = await bootFleetHosts({
    count: 3,
    conf: (i) =>
      `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=/bench/\nmetadata=host=h${i}\npublic_ip=10.9.9.${i + 1}\n`,
  });
  try {
    const endpoint = `unix://${cluster.hosts[0]?.rootDir}/run/fleet.sock`;
    for (let i = 0; i < 300; i++) {
      const r = await fleetctl(endpoint, dir, ["list-machines", "--no-legend"]).catch(() => -1);
      if (r >= 0) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    writeFileSync(path.join(dir, "single.service"), "[Service]\nExecStart=/bin/sleep 100000\n");
    writeFileSync(
      path.join(dir, "hello@.service"),
      "[Unit]\nDescription=hello %i\n[Service]\nExecStart=/bin/sleep 100000\n",
    );
    const instances = Array.from({ length: 30 }, (_, i) => `hello@${i + 1}.service`);
    const rows: Record<string, number[]> = {
      "start 1 unit (blocking, until running)": [],
      "start 30 template instances (blocking, until running)": [],
      "destroy 1 unit": [],
      "destroy 30 units": [],
    };
    for (let run = 0; run < RUNS; run++) {
      rows["start 1 unit (blocking, until running)"]?.push(
        await fleetctl(endpoint, dir, ["start", "single.service"]),
      );
      rows["start 30 template instances (blocking, until running)"]?.push(
        await fleetctl(endpoint, dir, ["start", ...instances]),
      );
      rows["destroy 1 unit"]?.push(await fleetctl(endpoint, dir, ["destroy", "single.service"]));
      rows["destroy 30 units"]?.push(await fleetctl(endpoint, dir, ["destroy", ...instances]));
      process.stderr.write(`[fleetctl-start] run ${run + 1} done\n`);
    }
    const lines = [
      `our fleetctl on 3 real hosts, median of ${RUNS} (s)`,
      "",
      "| command | median | all |",
      "|---|---|---|",
      ...Object.entries(rows).map(
        ([k, v]) =>
          `| ${k} | ${median(v).toFixed(2)} | ${v.map((x) => x.toFixed(2)).join(" / ")} |`,
      ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await cluster.teardown();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fleetctl-start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
