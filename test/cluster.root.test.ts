/**
 * The agent and the engine on real hosts (needs root): real etcd, three booted systemd hosts,
 * one agent per host driving that host's systemd over D-Bus (from outside the host, through
 * its bus socket and /proc/<pid>/root), the engine electing itself among them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../agent/agent.js";
import { Engine } from "../agent/engine/engine.js";
import { memoryLogger } from "../agent/logging/logger.js";
import type { UnitRecord } from "../agent/registry/codecs.js";
import { Registry } from "../agent/registry/registry.js";
import { SystemdClient } from "../agent/systemd/client.js";
import { UnitFileStore } from "../agent/systemd/unit-files.js";
import { parseUnitFile, unitHash } from "../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootHosts, type Cluster } from "./harness/hosts.js";

const METADATA: Record<string, string>[] = [
  { region: "eu", disk: "ssd" },
  { region: "eu" },
  { region: "us" },
];
let etcd: EtcdCluster;
let cluster: Cluster;
let registry: Registry;
let engine: Engine;
const agents: (Agent | undefined)[] = [];
const clients: SystemdClient[] = [];
const log = memoryLogger("info");

async function startAgent(i: number, resumeLeaseId?: string): Promise<Agent> {
  const host = cluster.hosts[i];
  if (host === undefined) throw new Error(`no host ${i}`);
  const systemd = await SystemdClient.connect({ busAddress: host.busAddress, log });
  clients.push(systemd);
  const agent = new Agent({
    registry,
    systemd,
    files: new UnitFileStore(systemd, { fsRoot: host.rootDir }),
    machine: {
      id: host.machineId,
      publicIP: `10.0.0.${i + 1}`,
      metadata: METADATA[i] ?? {},
      version: "test",
      startedAt: Date.now(),
    },
    ttlSeconds: 2,
    log: log.with({ host: i }),
    ...(resumeLeaseId === undefined ? {} : { resumeLeaseId }),
  });
  await agent.start();
  agents[i] = agent;
  return agent;
}

function unit(
  name: string,
  text: string,
  desiredState: UnitRecord["desiredState"] = "launched",
): UnitRecord {
  const options = [...parseUnitFile(text).options];
  return { name, options, hash: unitHash(options), desiredState };
}

const sh = async (i: number, ...args: string[]) =>
  (await cluster.systemctl(i, ...args)).stdout.trim();
const active = (i: number, name: string) => sh(i, "show", "-p", "ActiveState", "--value", name);
const loadState = (i: number, name: string) => sh(i, "show", "-p", "LoadState", "--value", name);

async function stateIn(name: string): Promise<Record<string, string>> {
  const { states } = await registry.states.list(name);
  return Object.fromEntries(
    states.map((s) => [
      String(cluster.hosts.findIndex((h) => h.machineId === s.machineId)),
      `${s.loadState}/${s.activeState}/${s.subState}`,
    ]),
  );
}

async function hostsOf(name: string): Promise<number[]> {
  const placed = await registry.kv.range(registry.keys.placementPrefix(name));
  return placed.kvs
    .map((kv) => cluster.hosts.findIndex((h) => kv.key.endsWith(h.machineId)))
    .sort();
}

beforeAll(async () => {
  etcd = await startEtcd();
  cluster = await bootHosts({ count: 3 });
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/fleet/", log });
  engine = new Engine({
    registry,
    machineId: cluster.hosts[0]?.machineId ?? "",
    ttlSeconds: 2,
    reconcileIntervalMs: 500,
    log,
  });
  engine.start();
  await startAgent(0);
  await startAgent(1);
}, 120_000);

afterAll(async () => {
  for (const a of agents) await a?.stop();
  await engine?.stop();
  for (const c of clients) c.close();
  registry?.close();
  await cluster?.teardown();
  await etcd?.stop();
});

const T = { timeout: 15_000, interval: 50 };

describe("(root) units on real hosts", () => {
  it("(root) follows fleet's states: submitted, loaded, launched, stopped, unloaded, destroyed", async () => {
    const u = unit(
      "life.service",
      "[Unit]\nDescription=life\n[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=disk=ssd\n",
      "inactive",
    );
    await registry.units.create(u);
    await new Promise((r) => setTimeout(r, 500));
    expect(await hostsOf("life.service")).toEqual([]);
    expect(await loadState(0, "life.service")).toBe("not-found");

    await registry.units.setDesiredState("life.service", "loaded");
    await expect.poll(() => stateIn("life.service"), T).toEqual({ 0: "loaded/inactive/dead" });
    expect(await loadState(0, "life.service")).toBe("loaded");
    expect(await active(0, "life.service")).toBe("inactive");

    await registry.units.setDesiredState("life.service", "launched");
    await expect.poll(() => stateIn("life.service"), T).toEqual({ 0: "loaded/active/running" });
    expect(await active(0, "life.service")).toBe("active");

    await registry.units.setDesiredState("life.service", "loaded"); // fleetctl stop
    await expect.poll(() => stateIn("life.service"), T).toEqual({ 0: "loaded/inactive/dead" });
    expect(await active(0, "life.service")).toBe("inactive");

    await registry.units.setDesiredState("life.service", "inactive"); // fleetctl unload
    await expect.poll(() => stateIn("life.service"), T).toEqual({});
    await expect.poll(() => loadState(0, "life.service"), T).toBe("not-found");

    await registry.units.setDesiredState("life.service", "launched");
    await expect.poll(() => stateIn("life.service"), T).toEqual({ 0: "loaded/active/running" });
    await registry.units.destroy("life.service"); // fleetctl destroy
    await expect.poll(() => stateIn("life.service"), T).toEqual({});
    await expect.poll(() => loadState(0, "life.service"), T).toBe("not-found");
    expect(await sh(0, "list-unit-files", "--no-legend", "life.service")).toBe("");
  });

  it("(root) a start writes the unit's state to etcd once, with its LoadState", async () => {
    // The start's first signals come before the agent reads the unit back, without LoadState:
    // they used to be written as a state with an empty LoadState, then written again.
    const written: string[] = [];
    const watcher = await registry.client
      .watch()
      .prefix(registry.keys.statesPrefix("once.service"))
      .create();
    watcher.on("put", (kv) => {
      const s = JSON.parse(kv.value.toString()) as Record<string, string>;
      written.push(`${s.loadState}/${s.activeState}/${s.subState}`);
    });
    try {
      await registry.units.create(
        unit(
          "once.service",
          "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=disk=ssd\n",
        ),
      );
      await expect.poll(() => stateIn("once.service"), T).toEqual({ 0: "loaded/active/running" });
      await new Promise((r) => setTimeout(r, 500)); // room for a late second write
      expect(written).toEqual(["loaded/active/running"]);
    } finally {
      await watcher.cancel();
      await registry.units.destroy("once.service");
      await expect.poll(() => stateIn("once.service"), T).toEqual({});
    }
  });

  it("(root) reports a crashed unit in etcd within a second", async () => {
    await registry.units.create(
      unit(
        "crashy.service",
        "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=disk=ssd\n",
      ),
    );
    await expect.poll(() => stateIn("crashy.service"), T).toEqual({ 0: "loaded/active/running" });
    const pid = await sh(0, "show", "-p", "MainPID", "--value", "crashy.service");
    const killedAt = performance.now();
    await cluster.exec(0, ["kill", "-9", pid]);
    await expect
      .poll(() => stateIn("crashy.service"), { timeout: 5000, interval: 10 })
      .toEqual({ 0: "loaded/failed/failed" });
    const took = performance.now() - killedAt;
    console.log(`crash → state in etcd: ${took.toFixed(0)} ms`);
    expect(took).toBeLessThan(1000);
    await registry.units.destroy("crashy.service");
  });

  it("(root) enables [Install] units; a fleetd restart bounces nothing (same MainPID)", async () => {
    await registry.units.create(
      unit(
        "keep.service",
        "[Service]\nExecStart=/bin/sleep 1000\nRestart=always\n[Install]\nWantedBy=multi-user.target\n[X-Fleet]\nMachineMetadata=disk=ssd\n",
      ),
    );
    await expect.poll(() => stateIn("keep.service"), T).toEqual({ 0: "loaded/active/running" });
    expect(await sh(0, "is-enabled", "keep.service")).toBe("enabled-runtime");
    const pid = await sh(0, "show", "-p", "MainPID", "--value", "keep.service");
    const old = agents[0];
    const lease = old?.leaseId;
    await old?.stop();
    await startAgent(0, lease);
    expect(agents[0]?.leaseId).toBe(lease);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await sh(0, "show", "-p", "MainPID", "--value", "keep.service")).toBe(pid);
    expect(await hostsOf("keep.service")).toEqual([0]);
    await registry.units.destroy("keep.service");
    await expect.poll(() => loadState(0, "keep.service"), T).toBe("not-found");
  });

  it("(root) converges after dbus restarts inside the host", async () => {
    await cluster.systemctl(0, "restart", "dbus.service");
    await registry.units.create(
      unit(
        "after-dbus.service",
        "[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=disk=ssd\n",
      ),
    );
    await expect
      .poll(() => stateIn("after-dbus.service"), { timeout: 20_000, interval: 50 })
      .toEqual({ 0: "loaded/active/running" });
    await registry.units.destroy("after-dbus.service");
  });

  it("(root) places by metadata, never collocates conflicts, follows MachineOf, runs global units everywhere incl. a host that joins later", async () => {
    const sleep = "[Service]\nExecStart=/bin/sleep 1000\n";
    await registry.units.create(
      unit("eu.service", `${sleep}[X-Fleet]\nMachineMetadata=region=eu\n`),
    );
    await registry.units.create(
      unit("us.service", `${sleep}[X-Fleet]\nMachineMetadata=region=us\n`),
    );
    await registry.units.create(
      unit("web@1.service", `${sleep}[X-Fleet]\nConflicts=web@*.service\n`),
    );
    await registry.units.create(
      unit("web@2.service", `${sleep}[X-Fleet]\nConflicts=web@*.service\n`),
    );
    await registry.units.create(
      unit("side@1.service", `${sleep}[X-Fleet]\nMachineOf=web@1.service\n`),
    );
    await registry.units.create(unit("everywhere.service", `${sleep}[X-Fleet]\nGlobal=true\n`));
    await expect.poll(() => hostsOf("everywhere.service"), T).toEqual([0, 1]);
    expect((await hostsOf("eu.service")).every((h) => h === 0 || h === 1)).toBe(true);
    const webs = [...(await hostsOf("web@1.service")), ...(await hostsOf("web@2.service"))];
    expect(new Set(webs).size).toBe(2);
    expect(await hostsOf("side@1.service")).toEqual(await hostsOf("web@1.service"));
    // eu, web@1, web@2, side@1, and the global unit twice; us.service has no host yet.
    await expect
      .poll(
        async () =>
          (await registry.states.list()).states.filter((s) => s.activeState === "active").length,
        T,
      )
      .toBe(6);
    for (const name of [
      "eu.service",
      "web@1.service",
      "web@2.service",
      "side@1.service",
      "everywhere.service",
    ]) {
      for (const h of await hostsOf(name)) expect(await active(h, name)).toBe("active");
    }
    expect((await registry.schedule.readSnapshot()).unschedulable.get("us.service")).toBe(
      "no machine has region=us",
    );

    // Host 2 (region=us) joins: the global unit and us.service come to it.
    await startAgent(2);
    await expect.poll(() => hostsOf("everywhere.service"), T).toEqual([0, 1, 2]);
    await expect.poll(() => hostsOf("us.service"), T).toEqual([2]);
    await expect.poll(() => active(2, "everywhere.service"), T).toBe("active");
    await expect.poll(() => active(2, "us.service"), T).toBe("active");
  });
});
