/**
 * @module test/harness/cli
 * Command line for the test host harness, for the demo, benchmarks and poking at hosts by hand:
 *
 *   npx tsx test/harness/cli.ts up N [--netns] [--dir D]   boot N hosts, leave them running
 *   npx tsx test/harness/cli.ts status [--dir D]           hosts, PIDs, states, bus addresses
 *   npx tsx test/harness/cli.ts exec I [--dir D] -- CMD... run CMD inside host I
 *   npx tsx test/harness/cli.ts kill-host I [--dir D]      SIGKILL host I's systemd (a crash)
 *   npx tsx test/harness/cli.ts boot-host I [--dir D]      boot host I again
 *   npx tsx test/harness/cli.ts cut|heal I [--dir D]       take host I's network down / up
 *   npx tsx test/harness/cli.ts down [--dir D]             end the run; also cleans crashed runs
 *
 * Without --dir the run lives in /tmp/fleet-ts-hosts/cli. `up` runs are persistent: they stay
 * until `down`, whatever happens to the shell that made them.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { Command } from "commander";
import { attachCluster, bootHosts, type Cluster, DEFAULT_RUNS_ROOT } from "./hosts.js";
import { sweepCrashedRuns, teardownRun } from "./teardown.js";

const DEFAULT_CLI_DIR = path.join(DEFAULT_RUNS_ROOT, "cli");
const log = (line: string) => process.stderr.write(`[hosts] ${line}\n`);

function parseIndex(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`host index must be 0, 1, 2, ...; got ${JSON.stringify(s)}`);
  return n;
}

function attach(dir: string | undefined): Cluster {
  return attachCluster(dir ?? DEFAULT_CLI_DIR, { log });
}

async function printStatus(cluster: Cluster): Promise<void> {
  process.stdout.write(`run ${cluster.runId} in ${cluster.baseDir}\n`);
  for (const h of cluster.hosts) {
    let state = "down";
    if (h.running) {
      const r = await cluster.systemctl(h.index, "is-system-running");
      state = r.stdout.trim() || "unknown";
    }
    const ip = h.ip ? ` ip ${h.ip}` : "";
    process.stdout.write(
      `${h.index} ${h.name} pid ${h.pid} ${state} machine-id ${h.machineId}${ip} bus ${h.busAddress}\n`,
    );
  }
}

const program = new Command()
  .name("hosts")
  .description("Real systemd test hosts on this machine (needs root)")
  .enablePositionalOptions();

program
  .command("up")
  .argument("<count>", "number of hosts")
  .option("--netns", "give each host a network namespace on a private test bridge")
  .option("--dir <dir>", "run directory", DEFAULT_CLI_DIR)
  .option("--timeout <seconds>", "boot timeout per host", "60")
  .action(async (count: string, opts: { netns?: boolean; dir: string; timeout: string }) => {
    const cluster = await bootHosts({
      count: Number(count),
      baseDir: opts.dir,
      netns: opts.netns ?? false,
      persistent: true,
      bootTimeoutMs: Number(opts.timeout) * 1000,
      log,
    });
    await printStatus(cluster);
  });

program
  .command("down")
  .option("--dir <dir>", "run directory", DEFAULT_CLI_DIR)
  .action(async (opts: { dir: string }) => {
    const report = await teardownRun(opts.dir);
    log(
      report
        ? `run ${report.runId} down: killed ${report.killed.length} process(es), unmounted ${report.unmounted.length}, deleted ${report.netnsDeleted.length} netns`
        : `no run in ${opts.dir}`,
    );
    const swept = await sweepCrashedRuns(DEFAULT_RUNS_ROOT);
    for (const r of swept.cleaned) {
      log(`cleaned crashed run ${r.runId} (${r.baseDir}): killed ${r.killed.length} process(es)`);
    }
    for (const f of swept.failed) {
      log(`cannot clean crashed run ${f.baseDir}: ${f.error.message}`);
      process.exitCode = 1;
    }
  });

program
  .command("status")
  .option("--dir <dir>", "run directory")
  .action(async (opts: { dir?: string }) => {
    await printStatus(attach(opts.dir));
  });

program
  .command("exec")
  .argument("<index>", "host index")
  .argument("<command...>", "command to run inside the host (after --)")
  .option("--dir <dir>", "run directory")
  .action(async (index: string, command: string[], opts: { dir?: string }) => {
    const cluster = attach(opts.dir);
    const [file, ...args] = cluster.nsenterArgv(parseIndex(index), command) as [
      string,
      ...string[],
    ];
    const child = spawn(file, args, { stdio: "inherit", env: cluster.hostEnv() });
    const code = await new Promise<number>((resolve) => {
      child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    process.exitCode = code;
  });

for (const [name, what] of [
  ["kill-host", "SIGKILL the host's systemd (a crash)"],
  ["boot-host", "boot the host again"],
  ["cut", "take the host's network link down"],
  ["heal", "bring the host's network link back up"],
] as const) {
  program
    .command(name)
    .description(what)
    .argument("<index>", "host index")
    .option("--dir <dir>", "run directory")
    .action(async (index: string, opts: { dir?: string }) => {
      const cluster = attach(opts.dir);
      const i = parseIndex(index);
      if (name === "kill-host") await cluster.killHost(i);
      else if (name === "boot-host") await cluster.bootHost(i);
      else if (name === "cut") await cluster.cutNetwork(i);
      else await cluster.healNetwork(i);
      log(`host ${i}: ${name} done`);
    });
}

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`hosts: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
