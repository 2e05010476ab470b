/**
 * fleet's own fleetctl (v1.0.0, ../shared/tools) against fleet-ts on 3 real hosts, each running
 * fleetd as a systemd service (needs root). The only test that reads ../shared: it runs when
 * the original fleetctl is there (it is beside every CI checkout), as the issue asks.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootHosts, type Cluster } from "./harness/hosts.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const FLEETCTL = join(REPO, "..", "shared", "tools", "fleetctl-v1.0.0");
const ROLES = ["web", "db", "web"];
let etcd: EtcdCluster;
let cluster: Cluster;
let dir: string;

function fleetctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const sock = `${cluster.hosts[0]?.rootDir}/run/fleet.sock`;
  return new Promise((resolve) => {
    execFile(
      FLEETCTL,
      ["--endpoint", `unix://${sock}`, ...args],
      { cwd: dir, timeout: 60_000 },
      (error, out, err) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err });
      },
    );
  });
}

describe.runIf(existsSync(FLEETCTL))("(root) fleet's own fleetctl against fleet-ts", () => {
  beforeAll(async () => {
    etcd = await startEtcd();
    const service = `[Service]\nExecStart=/usr/bin/node --max-semi-space-size=1 --v8-pool-size=0 ${REPO}/dist/agent/main.js\nKillMode=process\nRestart=always\n[Install]\nWantedBy=multi-user.target\n`;
    cluster = await bootHosts({
      count: 3,
      binds: [REPO],
      files: (i) => ({
        "/etc/fleet/fleet.conf": `etcd_servers=${etcd.endpoints.join(",")}\nmetadata=role=${ROLES[i]}\npublic_ip=127.0.0.${11 + i}\n`,
        "/etc/systemd/system/fleet.service": service,
        "/etc/systemd/system/multi-user.target.wants/fleet.service": {
          symlink: "/etc/systemd/system/fleet.service",
        },
      }),
    });
    dir = mkdtempSync(join(tmpdir(), "fleetctl-units-"));
    writeFileSync(
      join(dir, "hello.service"),
      "[Unit]\nDescription=Hello\n[Service]\nExecStart=/bin/sleep 100000\n",
    );
    writeFileSync(
      join(dir, "db.service"),
      "[Unit]\nDescription=Runs on role=db only\n[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\nMachineMetadata=role=db\n",
    );
    // Wait until all three fleetd have registered.
    for (let i = 0; i < 300; i++) {
      const r = await fleetctl("list-machines", "--no-legend");
      if (r.out.split("\n").filter(Boolean).length === 3) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await cluster?.teardown();
    await etcd?.stop();
  });

  const short = (i: number) => `${cluster.hosts[i]?.machineId.slice(0, 8)}.../127.0.0.${11 + i}`;

  it("(root) list-machines shows every host with its metadata", async () => {
    const r = await fleetctl("list-machines");
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toBe("MACHINE\t\tIP\t\tMETADATA");
    expect(lines.slice(1).sort()).toEqual(
      [0, 1, 2]
        .map(
          (i) =>
            `${cluster.hosts[i]?.machineId.slice(0, 8)}...\t127.0.0.${11 + i}\trole=${ROLES[i]}`,
        )
        .sort(),
    );
  });

  it("(root) submit, start, list, cat, stop, unload and destroy behave as against fleet", async () => {
    expect((await fleetctl("submit", "hello.service")).out).toBe("Unit hello.service inactive\n");
    expect((await fleetctl("list-unit-files", "--no-legend")).out).toMatch(
      /^hello\.service\t[0-9a-f]{7}\tinactive\tinactive\t-\n$/,
    );
    const start = await fleetctl("start", "hello.service");
    expect(start.code).toBe(0);
    expect(start.out).toMatch(
      /^Unit hello\.service launched on [0-9a-f]{8}\.\.\.\/127\.0\.0\.1[1-3]\n$/,
    );
    await expect
      .poll(async () => (await fleetctl("list-units", "--no-legend")).out, { timeout: 20_000 })
      .toMatch(/^hello\.service\t[0-9a-f]{8}\.\.\.\/127\.0\.0\.1[1-3]\tactive\trunning\n$/);
    expect((await fleetctl("cat", "hello.service")).out).toBe(
      "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 100000\n",
    );
    expect((await fleetctl("stop", "hello.service")).code).toBe(0);
    await expect
      .poll(async () => (await fleetctl("list-units", "--no-legend")).out, { timeout: 20_000 })
      .toMatch(/\tinactive\tdead\n$/);
    expect((await fleetctl("unload", "hello.service")).out).toBe("Unit hello.service inactive\n");
    expect((await fleetctl("destroy", "hello.service")).out).toBe("Destroyed hello.service\n");
    expect((await fleetctl("list-unit-files", "--no-legend")).out).toBe("");
  }, 120_000);

  it("(root) a MachineMetadata unit lands only where it may", async () => {
    const r = await fleetctl("start", "db.service");
    // Not submitted yet: fleetctl submits it first, as it did against fleet.
    expect(r.out).toBe(`Unit db.service inactive\nUnit db.service launched on ${short(1)}\n`);
    await expect
      .poll(async () => (await fleetctl("list-units", "--no-legend")).out, { timeout: 20_000 })
      .toBe(`db.service\t${short(1)}\tactive\trunning\n`);
    expect((await cluster.systemctl(1, "is-active", "db.service")).stdout.trim()).toBe("active");
    expect((await fleetctl("destroy", "db.service")).code).toBe(0);
  }, 120_000);
});
