/**
 * `make demo`: a local 3-host fleet-ts cluster on real systemd and real etcd, each host booted
 * from its own #cloud-config (as CoreOS machines were), running the example units of
 * docs/examples/units/. It leaves the cluster up; `make demo-down` ends it.
 *
 *   npx tsx scripts/demo.ts up     boot (ends an earlier demo first), run the examples, print
 *   npx tsx scripts/demo.ts down   tear everything down (hosts, their etcd, mounts)
 *
 * etcd runs inside host 0 as a unit its cloud-config starts, so tearing down the hosts tears
 * down etcd with them, by the PIDs the harness recorded. fleetctl reaches the cluster over
 * host 0's TCP API with a bearer token (the wrapper .fleet-demo/fleetctl sets both).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cloudInitHostFiles } from "../test/harness/cloudinit-host.js";
import { bootHosts, DEFAULT_RUNS_ROOT } from "../test/harness/hosts.js";
import { freePort } from "../test/harness/ports.js";
import { teardownRun } from "../test/harness/teardown.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
// Overridable so that the demo's own test never touches a demo someone left running.
const RUN_DIR = process.env.FLEET_DEMO_RUN_DIR ?? path.join(DEFAULT_RUNS_ROOT, "demo");
const STATE_DIR = process.env.FLEET_DEMO_STATE_DIR ?? path.join(REPO, ".fleet-demo");
const UNITS_DIR = path.join(REPO, "docs", "examples", "units");
const FLEETCTL = path.join(REPO, "dist", "cli", "fleetctl.js");

/** Each host's role in the demo: what its cloud-config gives it. */
const HOSTS = [
  { metadata: "role=web,region=eu-west", etcd: true },
  { metadata: "role=db,region=eu-west", etcd: false },
  { metadata: "role=db,region=us-east", etcd: false },
] as const;

/** What the demo starts, in this order, and what each shows. */
const START = [
  ["monitor.service", "a global unit: one on every machine"],
  ["db.service", "MachineMetadata=role=db: only on the db machine"],
  ["web@1.service", "a template instance; web@ units conflict with each other"],
  ["web@2.service", "never on the same machine as web@1"],
  ["web-announce@1.service", "MachineOf=web@1.service: follows it"],
] as const;

class DemoError extends Error {
  override name = "DemoError";
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Host i's #cloud-config: its fleet settings, the shared token, and etcd on host 0. */
export function demoCloudConfig(
  i: number,
  ports: { etcdClient: number; etcdPeer: number; api: readonly number[] },
  token: string,
): string {
  const host = HOSTS[i];
  if (host === undefined) throw new DemoError(`no demo host ${i}`);
  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  const lines = [
    "#cloud-config",
    `hostname: demo${i}`,
    "write_files:",
    "  - path: /etc/fleet/api-token",
    '    permissions: "0600"',
    `    content: ${token}`,
    "  - path: /etc/fleet/fleet.conf",
    '    permissions: "0644"',
    "    content: |",
    // The TCP listener lets fleetctl in from outside and lets the fleetds proxy journal and
    // status requests to each other; the unix socket stays for local tools.
    `      api_listen=unix:///var/run/fleet.sock,tcp://127.0.0.1:${ports.api[i]}`,
    "      api_token_file=/etc/fleet/api-token",
    "coreos:",
    "  fleet:",
    `    etcd_servers: ${etcdUrl}`,
    `    metadata: "${host.metadata}"`,
    `    public_ip: 127.0.0.${11 + i}`,
    '    agent_ttl: "10s"',
    "  units:",
  ];
  if (host.etcd) {
    lines.push(
      "    - name: demo-etcd.service",
      "      command: start",
      "      content: |",
      "        [Unit]",
      "        Description=etcd for the fleet-ts demo",
      "        Before=fleet.service",
      "        [Service]",
      `        ExecStart=/usr/bin/etcd --name demo --data-dir /var/lib/demo-etcd --listen-client-urls ${etcdUrl} --advertise-client-urls ${etcdUrl} --listen-peer-urls http://127.0.0.1:${ports.etcdPeer} --initial-advertise-peer-urls http://127.0.0.1:${ports.etcdPeer} --initial-cluster demo=http://127.0.0.1:${ports.etcdPeer}`,
      "        Restart=always",
    );
  }
  lines.push("    - name: fleet.service", "      command: start", "");
  return lines.join("\n");
}

function fleetctl(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [FLEETCTL, ...args],
      { env: fleetctlEnv(), timeout: 60_000 },
      (error, out, err) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, out, err });
      },
    );
  });
}

function fleetctlEnv(): NodeJS.ProcessEnv {
  const conf = JSON.parse(readFileSync(path.join(STATE_DIR, "demo.json"), "utf8")) as {
    endpoint: string;
    tokenFile: string;
  };
  return {
    ...process.env,
    FLEETCTL_ENDPOINT: conf.endpoint,
    FLEETCTL_TOKEN_FILE: conf.tokenFile,
    // fleet's 3 s default is too short on a loaded machine that also hosts the whole cluster.
    FLEETCTL_REQUEST_TIMEOUT: process.env.FLEETCTL_REQUEST_TIMEOUT ?? "20",
  };
}

async function waitFor(what: string, timeoutMs: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await sleep(250);
  }
  throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

async function down(): Promise<void> {
  const report = await teardownRun(RUN_DIR);
  say(
    report
      ? `demo down: ${report.killed.length} process(es) stopped, ${report.unmounted.length} mount(s) removed`
      : "no demo running",
  );
}

async function up(): Promise<void> {
  await down();
  mkdirSync(STATE_DIR, { recursive: true });
  const token = randomBytes(24).toString("hex");
  const tokenFile = path.join(STATE_DIR, "api-token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  const ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    api: [await freePort(), await freePort(), await freePort()],
  };
  const endpoint = `http://127.0.0.1:${ports.api[0]}`;
  writeFileSync(path.join(STATE_DIR, "demo.json"), JSON.stringify({ endpoint, tokenFile }));
  writeFileSync(
    path.join(STATE_DIR, "fleetctl"),
    [
      "#!/bin/sh",
      "# fleetctl against the demo cluster (made by make demo)",
      `export FLEETCTL_ENDPOINT=${endpoint} FLEETCTL_TOKEN_FILE=${tokenFile}`,
      // A shell default (not a template): the caller may still set a timeout of its own.
      `export FLEETCTL_REQUEST_TIMEOUT=$${"{"}FLEETCTL_REQUEST_TIMEOUT:-20}`,
      `exec ${process.execPath} ${FLEETCTL} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  for (let i = 0; i < HOSTS.length; i++) {
    writeFileSync(path.join(STATE_DIR, `cloud-config-${i}.yml`), demoCloudConfig(i, ports, token));
  }

  say(
    `booting ${HOSTS.length} hosts, each from its own cloud-config (${STATE_DIR}/cloud-config-*.yml)`,
  );
  const started = Date.now();
  const cluster = await bootHosts({
    count: HOSTS.length,
    baseDir: RUN_DIR,
    persistent: true,
    namePrefix: "demo",
    binds: [REPO],
    files: (i) => cloudInitHostFiles(REPO, demoCloudConfig(i, ports, token)),
    log: (line) => say(`  ${line}`),
  });
  await waitFor("3 machines in fleetctl list-machines", 90_000, async () => {
    const r = await fleetctl(["list-machines", "--no-legend"]);
    return r.code === 0 && r.out.split("\n").filter(Boolean).length === HOSTS.length;
  });
  say(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const files = readdirSync(UNITS_DIR).map((f) => path.join(UNITS_DIR, f));
  const submitted = await fleetctl(["submit", ...files]);
  if (submitted.code !== 0) throw new DemoError(`fleetctl submit failed: ${submitted.err}`);
  for (const [unit, why] of START) {
    say(`fleetctl start ${unit}   # ${why}`);
    const r = await fleetctl(["start", unit]);
    process.stdout.write(r.out);
    if (r.code !== 0) throw new DemoError(`fleetctl start ${unit} failed: ${r.err}`);
  }
  const expected = START.length - 1 + HOSTS.length; // the global unit once per machine
  await waitFor(`${expected} units active`, 60_000, async () => {
    const r = await fleetctl(["list-units", "--no-legend", "--fields=unit,active"]);
    return r.out.split("\n").filter((l) => l.endsWith("\tactive")).length === expected;
  });

  for (const cmd of [["list-machines"], ["list-unit-files"], ["list-units"]]) {
    say(`\n$ fleetctl ${cmd.join(" ")}`);
    process.stdout.write((await fleetctl(cmd)).out);
  }
  say(`
The cluster stays up: ${cluster.hosts.length} hosts (real systemd), etcd inside demo0.
Use it with:
  ${STATE_DIR}/fleetctl list-units
  ${STATE_DIR}/fleetctl status db.service
  ${STATE_DIR}/fleetctl journal -f web@1.service
  ${STATE_DIR}/fleetctl list-units --watch
  npx tsx test/harness/cli.ts exec 1 --dir ${RUN_DIR} -- systemctl status db.service
Try a failure: kill the host that runs db.service (1 or 2) and watch it move to the other
role=db host within agent_ttl (10 s here):
  npx tsx test/harness/cli.ts kill-host 1 --dir ${RUN_DIR}
Tear it down: make demo-down`);
}

const command = process.argv[2] ?? "up";
const run = command === "up" ? up : command === "down" ? down : undefined;
if (run === undefined) {
  process.stderr.write(`demo: unknown command ${JSON.stringify(command)}: use up or down\n`);
  process.exit(2);
}
run().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.stderr.write("the hosts are left as they are for a look; make demo-down ends them\n");
  process.exitCode = 1;
});
