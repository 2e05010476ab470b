/**
 * The applier's daemon-reload decision against a real systemd 252 in a booted test host (needs
 * root: test/harness/hosts.ts). What matters is systemd's behaviour, so each case counts
 * systemd's own "Reloading." journal lines and checks which unit file the started process ran.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHosts, type Cluster } from "../../test/harness/hosts.js";
import { memoryLogger } from "../logging/logger.js";
import { SystemdClient } from "../systemd/client.js";
import { UnitFileStore } from "../systemd/unit-files.js";
import { applyTasks } from "./apply.js";
import { planTasks, type Task } from "./plan.js";

let cluster: Cluster;
let client: SystemdClient;
let store: UnitFileStore;
const log = memoryLogger();

beforeAll(async () => {
  cluster = await bootHosts({ count: 1 });
  const host = cluster.hosts[0];
  if (host === undefined) throw new Error("no host");
  client = await SystemdClient.connect({ busAddress: host.busAddress, log: memoryLogger() });
  store = new UnitFileStore(client, { fsRoot: host.rootDir });
});

afterAll(async () => {
  client?.close();
  await cluster?.teardown();
});

async function reloads(): Promise<number> {
  const r = await cluster.exec(0, ["journalctl", "--no-pager", "-o", "cat", "_PID=1"]);
  return r.stdout.split("\n").filter((l) => l === "Reloading.").length;
}

/** The tasks the agent's planner makes to launch these units from nothing. */
function launch(units: Record<string, string>): Task[] {
  const desired = new Map(
    Object.entries(units).map(([name, text]) => [
      name,
      { name, hash: `h-${text.length}-${name}`, desiredState: "launched" as const, text },
    ]),
  );
  return planTasks(desired, new Map());
}

const unload = (name: string): Task[] => [
  { type: "stop", unit: name, reason: "test" },
  { type: "unload", unit: name, reason: "test" },
  { type: "reload", reason: "test" },
];

async function mainCommand(name: string): Promise<string> {
  await expect
    .poll(async () => Number(await client.mainPid(name)), { timeout: 10_000 })
    .toBeGreaterThan(0);
  const pid = await client.mainPid(name);
  const r = await cluster.exec(0, ["cat", `/proc/${pid}/cmdline`]);
  return r.stdout.replace(/\0/g, " ").trim();
}

describe("(root) the applier reloads systemd only when systemd needs it", () => {
  it("(root) starts new units, a template instance among them, without a daemon-reload", async () => {
    const before = await reloads();
    const fx = await applyTasks(
      launch({
        "fresh.service": "[Service]\nExecStart=/bin/sleep 1001\n",
        "fresh@1.service": "[Service]\nExecStart=/bin/sleep 1002\n",
      }),
      client,
      store,
      log,
    );
    expect(fx.failed).toEqual([]);
    expect(await mainCommand("fresh.service")).toBe("/bin/sleep 1001");
    expect(await mainCommand("fresh@1.service")).toBe("/bin/sleep 1002");
    expect(await reloads()).toBe(before);
    expect(log.lines.some((l) => l.includes("agent skipped daemon-reload"))).toBe(true);

    await applyTasks(
      [...unload("fresh.service"), ...unload("fresh@1.service")],
      client,
      store,
      log,
    );
    // Stopped and unreferenced, systemd collected them: nothing held, still no reload.
    expect(await reloads()).toBe(before);
    const shown = await cluster.systemctl(0, "show", "-p", "LoadState", "fresh.service");
    expect(shown.stdout.trim()).toBe("LoadState=not-found");
  });

  it("(root) reloads when systemd still holds an older copy, and the new file is the one that runs", async () => {
    // A failed unit keeps its parsed copy in systemd after its file is replaced.
    await applyTasks(
      launch({ "stale.service": "[Service]\nExecStart=/bin/false\n" }),
      client,
      store,
      log,
    );
    await expect
      .poll(async () => (await client.listUnitsByNames(["stale.service"]))[0]?.activeState, {
        timeout: 10_000,
      })
      .toBe("failed");
    const before = await reloads();
    const fx = await applyTasks(
      [
        {
          type: "write",
          unit: "stale.service",
          text: "[Service]\nExecStart=/bin/sleep 1003\n",
          hash: "h2",
          reason: "unit file changed",
        },
        { type: "reload", reason: "1 unit file(s) changed" },
        { type: "start", unit: "stale.service", reason: "test" },
      ],
      client,
      store,
      log,
    );
    expect(fx.failed).toEqual([]);
    expect(await reloads()).toBe(before + 1);
    expect(await mainCommand("stale.service")).toBe("/bin/sleep 1003");
    expect(log.lines.some((l) => l.includes("systemd holds an older copy of stale.service"))).toBe(
      true,
    );
    await applyTasks(unload("stale.service"), client, store, log);
  });

  it("(root) reloads for an [Install] unit, which is enabled", async () => {
    const before = await reloads();
    await applyTasks(
      launch({
        "installed.service":
          "[Service]\nExecStart=/bin/sleep 1004\n[Install]\nWantedBy=multi-user.target\n",
      }),
      client,
      store,
      log,
    );
    expect(await reloads()).toBe(before + 1);
    const enabled = await cluster.systemctl(0, "is-enabled", "installed.service");
    expect(enabled.stdout.trim()).toBe("enabled-runtime");
    const wants = await cluster.systemctl(0, "show", "-p", "Wants", "multi-user.target");
    expect(wants.stdout).toContain("installed.service");
    await applyTasks(unload("installed.service"), client, store, log);
  });

  it("(root) reloads when a removed unit is still held because another unit references it", async () => {
    await applyTasks(
      launch({
        "held.service": "[Service]\nExecStart=/bin/sleep 1005\n",
        "holder.service": "[Unit]\nWants=held.service\n[Service]\nExecStart=/bin/sleep 1006\n",
      }),
      client,
      store,
      log,
    );
    const before = await reloads();
    await applyTasks(unload("held.service"), client, store, log);
    expect(await reloads()).toBe(before + 1);
    expect(log.lines.some((l) => l.includes("systemd still holds removed held.service"))).toBe(
      true,
    );
    const shown = await cluster.systemctl(0, "show", "-p", "LoadState", "held.service");
    expect(shown.stdout.trim()).toBe("LoadState=not-found");
    await applyTasks(unload("holder.service"), client, store, log);
  });
});
