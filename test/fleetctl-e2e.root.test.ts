/**
 * Our fleetctl end to end on 3 real hosts (needs root): each host boots a real systemd running
 * fleetd as a service (socket on /run/fleet.sock, and a TCP listener with the cluster's token
 * so that one fleetd can reach another for status and journal). fleetctl talks to host 1's
 * socket only: `start` gets a unit running wherever the scheduler puts it, `list-units --watch`
 * (a real fleetctl process, ended with SIGINT) shows the transitions, `status` shows systemd's
 * view from the unit's host, `journal -f` streams new lines, and `restart` and `destroy` finish.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFleetctl } from "../cli/program.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootFleetHosts } from "./harness/fleet-hosts.js";
import type { Cluster } from "./harness/hosts.js";
import { freePort } from "./harness/ports.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const TSX = `file://${REPO}/node_modules/tsx/dist/esm/index.mjs`;
const TOKEN = "fleetctl-e2e-token";
const ROLES = ["web", "db", "web"];
const IP = (i: number) => `127.0.0.${61 + i}`;
const T = { timeout: 60_000, interval: 200 };

let etcd: EtcdCluster;
let cluster: Cluster;
let dir: string;
let port: number;
const children: ChildProcess[] = [];

const endpoint = () => `unix://${cluster.hosts[0]?.rootDir}/run/fleet.sock`;

async function fleetctl(...args: string[]) {
  let out = "";
  let err = "";
  const code = await runFleetctl(args, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    env: { FLEETCTL_ENDPOINT: endpoint() },
    cwd: dir,
    isTTY: false,
  });
  return { out, err, code };
}

/** fleetctl as its own process (cli/main.ts), for the commands that run until Ctrl-C. */
function fleetctlProcess(...args: string[]) {
  const child = spawn(process.execPath, ["--import", TSX, join(REPO, "cli/main.ts"), ...args], {
    cwd: dir,
    env: { ...process.env, FLEETCTL_ENDPOINT: endpoint() },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const seen = { out: "", err: "" };
  child.stdout?.on("data", (c) => {
    seen.out += c;
  });
  child.stderr?.on("data", (c) => {
    seen.err += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    seen,
    /** Ctrl-C, then its exit code. */
    interrupt: async () => {
      child.kill("SIGINT");
      return exited;
    },
  };
}

/** beforeAll cannot use expect.poll: wait for a condition, or fail saying what never happened. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const legend = /[0-9a-f]{8}\.\.\.\/127\.0\.0\.6[1-3]/.source;

beforeAll(async () => {
  etcd = await startEtcd();
  port = await freePort();
  cluster = await bootFleetHosts({
    count: 3,
    conf: (i) =>
      [
        `etcd_servers=${etcd.endpoints.join(",")}`,
        "etcd_key_prefix=/ctl-e2e/",
        `metadata=role=${ROLES[i]}`,
        `public_ip=${IP(i)}`,
        `api_listen=unix:///var/run/fleet.sock,tcp://${IP(i)}:${port}`,
        "api_token_file=/etc/fleet/api-token",
        "",
      ].join("\n"),
    files: () => ({ "/etc/fleet/api-token": `${TOKEN}\n` }),
  });
  dir = mkdtempSync(join(tmpdir(), "fleetctl-e2e-"));
  writeFileSync(
    join(dir, "ticker.service"),
    "[Unit]\nDescription=Ticker\n\n[Service]\nExecStart=/bin/sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'\n",
  );
  await waitFor(
    "three machines in list-machines",
    async () =>
      (await fleetctl("list-machines", "--no-legend")).out.split("\n").filter(Boolean).length === 3,
  );
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await cluster?.teardown();
  await etcd?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("(root) our fleetctl on 3 real hosts", () => {
  it("(root) list-machines shows the three hosts with their metadata", async () => {
    const r = await fleetctl("list-machines", "--no-legend", "--full");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter(Boolean).sort()).toEqual(
      [0, 1, 2].map((i) => `${cluster.hosts[i]?.machineId}\t${IP(i)}\trole=${ROLES[i]}`).sort(),
    );
  });

  it("(root) start gets the unit running, and list-units --watch shows it happen", async () => {
    const watch = fleetctlProcess("list-units", "--watch");
    // The first table: nothing runs yet.
    await expect.poll(() => watch.seen.out, T).toBe("UNIT\tMACHINE\tACTIVE\tSUB\n\n");
    const start = await fleetctl("start", "ticker.service");
    expect(start.err).toBe("");
    expect(start.code).toBe(0);
    expect(start.out).toMatch(
      new RegExp(
        `^Unit ticker\\.service inactive\\nUnit ticker\\.service launched on ${legend}\\n$`,
      ),
    );
    const row = new RegExp(`ticker\\.service\\t${legend}\\tactive\\trunning\\n`);
    await expect.poll(() => row.test(watch.seen.out), T).toBe(true);
    expect(await watch.interrupt()).toBe(0);
    const tables = watch.seen.out.split("\n\n").filter(Boolean);
    expect(tables[0]).toBe("UNIT\tMACHINE\tACTIVE\tSUB");
    expect(tables.length).toBeGreaterThanOrEqual(2);
    expect(row.test(`${tables.at(-1)}\n`)).toBe(true);
    expect(watch.seen.err).toBe("");
    // The same row in a one-shot listing.
    expect((await fleetctl("list-units", "--no-legend")).out).toMatch(
      new RegExp(`^${row.source}$`),
    );
  }, 120_000);

  it("(root) status is systemd's own view, from the unit's host", async () => {
    const r = await fleetctl("status", "ticker.service");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ticker\.service - Ticker/);
    expect(r.out).toMatch(/Active: active \(running\)/);
    const json = JSON.parse((await fleetctl("status", "ticker.service", "-o", "json")).out) as {
      name: string;
      exitCode: number;
      machineID: string;
    }[];
    const units = JSON.parse((await fleetctl("list-unit-files", "-o", "json")).out) as {
      name: string;
      machineID?: string;
    }[];
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ name: "ticker.service", exitCode: 0 });
    expect(json[0]?.machineID).toBe(units.find((u) => u.name === "ticker.service")?.machineID);
  });

  it("(root) journal shows the last lines, and journal -f shows new ones", async () => {
    // The unit may have been running for less than its first three ticks: wait for them.
    const journal = () => fleetctl("journal", "--lines", "3", "ticker.service");
    await expect
      .poll(async () => (await journal()).out.match(/tick \d+$/gm)?.length ?? 0, T)
      .toBe(3);
    const last = await journal();
    expect(last.code).toBe(0);
    const lines = last.out.split("\n").filter(Boolean);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(/tick \d+$/);
    const f = fleetctlProcess("journal", "-f", "--lines", "1", "ticker.service");
    const ticks = () => [...f.seen.out.matchAll(/tick (\d+)$/gm)].map((m) => Number(m[1]));
    await expect.poll(() => ticks().length, T).toBeGreaterThanOrEqual(1);
    const first = ticks()[0] as number;
    // New lines keep arriving while it follows.
    await expect.poll(() => Math.max(...ticks()), T).toBeGreaterThan(first + 2);
    expect(await f.interrupt()).toBe(0);
    expect(f.seen.err).toBe("");
  }, 120_000);

  it("(root) restart stops and starts the unit, then destroy removes it", async () => {
    const r = await fleetctl("restart", "ticker.service");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^Unit ticker\\.service loaded on ${legend}\\nUnit ticker\\.service launched on ${legend}\\n$`,
      ),
    );
    await expect
      .poll(async () => (await fleetctl("list-units", "--no-legend")).out, T)
      .toMatch(/\tactive\trunning\n$/);
    expect(await fleetctl("destroy", "ticker.service")).toEqual({
      out: "Destroyed ticker.service\n",
      err: "",
      code: 0,
    });
    await expect.poll(async () => (await fleetctl("list-units", "--no-legend")).out, T).toBe("");
    expect((await fleetctl("list-unit-files", "--no-legend")).out).toBe("");
  }, 120_000);
});
