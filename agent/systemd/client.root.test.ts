/**
 * The systemd client and unit-file placement against a real systemd 252 in a booted test host
 * (needs root: test/harness/hosts.ts).
 */
import { existsSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHosts, type Cluster } from "../../test/harness/hosts.js";
import { memoryLogger } from "../logging/logger.js";
import { SystemdClient } from "./client.js";
import { UnitFileStore } from "./unit-files.js";
import type { UnitStateChange } from "./unit-state.js";

let cluster: Cluster;
const clientLog = memoryLogger();
let client: SystemdClient;
let store: UnitFileStore;
const states: { at: number; change: UnitStateChange }[] = [];

beforeAll(async () => {
  cluster = await bootHosts({ count: 1 });
  const host = cluster.hosts[0];
  if (host === undefined) throw new Error("no host");
  client = await SystemdClient.connect({
    busAddress: host.busAddress,
    log: clientLog,
    pingIntervalMs: 500,
  });
  client.on("unitState", (change) => states.push({ at: performance.now(), change }));
  store = new UnitFileStore(client, { fsRoot: host.rootDir });
});

afterAll(async () => {
  if (process.env.DEBUG_SYSTEMD) console.log(clientLog.lines.join("\n"));
  client?.close();
  await cluster?.teardown();
});

const waitState = (name: string, active: string, sub?: string, since = 0) =>
  expect
    .poll(
      () =>
        states.find(
          (s) =>
            s.at >= since &&
            s.change.name === name &&
            s.change.activeState === active &&
            (sub === undefined || s.change.subState === sub),
        )?.at,
      { timeout: 10_000, interval: 10 },
    )
    .toBeDefined();

describe("(root) systemd client on a real host", () => {
  it("(root) places, links and starts a unit; JobRemoved and the state change arrive", async () => {
    await store.place("hello.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    await client.reload();
    const t0 = performance.now();
    const job = await client.startUnit("hello.service");
    const removed = await client.waitForJob(job);
    const tJob = performance.now() - t0;
    expect(removed).toMatchObject({ unit: "hello.service", result: "done" });
    await waitState("hello.service", "active", "running", t0);
    const [status] = await client.listUnitsByNames(["hello.service"]);
    expect(status).toMatchObject({
      loadState: "loaded",
      activeState: "active",
      subState: "running",
    });
    const pid = await client.mainPid("hello.service");
    expect(pid).toBeGreaterThan(1);
    const show = await cluster.systemctl(0, "show", "-p", "UnitFileState", "hello.service");
    expect(show.stdout.trim()).toBe("UnitFileState=linked-runtime");
    const link = readlinkSync(`${cluster.hosts[0]?.rootDir}/run/systemd/system/hello.service`);
    expect(link).toBe("/run/fleet/units/hello.service");
    console.log(`StartUnit → JobRemoved(done): ${tJob.toFixed(1)} ms`);

    const stopped = await client.waitForJob(await client.stopUnit("hello.service"));
    expect(stopped.result).toBe("done");
    await waitState("hello.service", "inactive", "dead", t0);
  });

  it("(root) reports a unit whose process exits with an error within milliseconds", async () => {
    await store.place("crash.service", "[Service]\nExecStart=/bin/sh -c 'sleep 0.3; exit 3'\n");
    await client.reload();
    await client.waitForJob(await client.startUnit("crash.service"));
    const started = performance.now();
    await waitState("crash.service", "failed", "failed", started);
    const failedAt =
      states.find((s) => s.change.name === "crash.service" && s.change.activeState === "failed")
        ?.at ?? 0;
    const latency = failedAt - started - 300;
    console.log(
      `process exit → failed state event: ~${Math.max(0, latency).toFixed(0)} ms after the 300 ms sleep`,
    );
    expect(latency).toBeLessThan(1000);
    await client.resetFailedUnit("crash.service");
  });

  it("(root) enables an [Install] unit at runtime, and unloading leaves no trace", async () => {
    const text = "[Service]\nExecStart=/bin/sleep 1000\n\n[Install]\nWantedBy=multi-user.target\n";
    expect(await store.place("inst.service", text)).toEqual({ enabled: true });
    await client.reload();
    expect((await cluster.systemctl(0, "is-enabled", "inst.service")).stdout.trim()).toBe(
      "enabled-runtime",
    );
    await client.waitForJob(await client.startUnit("inst.service"));
    await client.waitForJob(await client.stopUnit("inst.service"));
    await store.remove("inst.service");
    await store.remove("hello.service");
    await store.remove("crash.service");
    await client.reload();
    const host = cluster.hosts[0];
    for (const name of ["inst.service", "hello.service", "crash.service"]) {
      expect(existsSync(`${host?.rootDir}/run/fleet/units/${name}`)).toBe(false);
      expect(existsSync(`${host?.rootDir}/run/systemd/system/${name}`)).toBe(false);
      const load = await cluster.systemctl(0, "show", "-p", "LoadState", name);
      expect(load.stdout.trim()).toBe("LoadState=not-found");
    }
    expect(
      existsSync(`${host?.rootDir}/run/systemd/system/multi-user.target.wants/inst.service`),
    ).toBe(false);
    expect(await store.list()).toEqual([]);
    await client.resetFailedUnit("never-existed.service"); // tolerated
  });

  it("(root) places a batch together; a unit systemd cannot enable fails alone, the rest are placed", async () => {
    const host = cluster.hosts[0];
    const install = "\n[Install]\nWantedBy=multi-user.target\n";
    const placed = await store.placeAll([
      { name: "plain.service", text: "[Service]\nExecStart=/bin/sleep 1000\n" },
      { name: "wanted.service", text: `[Service]\nExecStart=/bin/sleep 1000\n${install}` },
      // systemd refuses to alias a service as a socket: EnableUnitFiles fails for the batch.
      {
        name: "badalias.service",
        text: "[Service]\nExecStart=/bin/sleep 1000\n\n[Install]\nAlias=bad.socket\n",
      },
    ]);
    expect(placed.map((p) => [p.name, p.enabled, p.error?.message ?? ""])).toEqual([
      ["plain.service", false, ""],
      ["wanted.service", true, ""],
      ["badalias.service", false, expect.stringContaining("bad.socket")],
    ]);
    await client.reload();
    expect((await cluster.systemctl(0, "is-enabled", "wanted.service")).stdout.trim()).toBe(
      "enabled-runtime",
    );
    expect(readlinkSync(`${host?.rootDir}/run/systemd/system/plain.service`)).toBe(
      "/run/fleet/units/plain.service",
    );
    // The unit that could not be enabled is removed whole, as fleet did, not left half placed.
    expect(existsSync(`${host?.rootDir}/run/fleet/units/badalias.service`)).toBe(false);
    expect(existsSync(`${host?.rootDir}/run/systemd/system/badalias.service`)).toBe(false);
    // Removed as a batch too, with a unit systemd never had among them: it is already gone.
    const removed = await store.removeAll([
      "plain.service",
      "never-placed.service",
      "wanted.service",
    ]);
    expect(removed.filter((r) => r.error !== undefined)).toEqual([]);
    await client.reload();
    expect(await store.list()).toEqual([]);
    for (const link of [
      "plain.service",
      "wanted.service",
      "multi-user.target.wants/wanted.service",
    ])
      expect(existsSync(`${host?.rootDir}/run/systemd/system/${link}`)).toBe(false);
  });

  it("(root) reads 300 units in one call", async () => {
    for (let i = 0; i < 300; i++) {
      await store.place(`many${i}.service`, `[Service]\nExecStart=/bin/sleep ${1000 + i}\n`);
    }
    await client.reload();
    expect((await store.list()).length).toBe(300);
    const t0 = performance.now();
    const statuses = await client.listUnitsByNames(
      Array.from({ length: 300 }, (_, i) => `many${i}.service`),
    );
    console.log(`ListUnitsByNames(300): ${(performance.now() - t0).toFixed(1)} ms`);
    expect(statuses).toHaveLength(300);
    expect(statuses.every((s) => s.loadState === "loaded" && s.activeState === "inactive")).toBe(
      true,
    );
    for (let i = 0; i < 300; i++) await store.remove(`many${i}.service`);
    await client.reload();
  });

  it("(root) watchUnits narrows the state changes to the units named, and widens them again", async () => {
    await store.place("watched.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    await store.place("ignored.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    await client.watchUnits(["watched.service"]);
    const t0 = performance.now();
    await client.waitForJob(await client.startUnit("ignored.service"));
    await client.waitForJob(await client.startUnit("watched.service"));
    await waitState("watched.service", "active", "running", t0);
    // Both ran; the watched unit's change came after the other's would have.
    const [ignored] = await client.listUnitsByNames(["ignored.service"]);
    expect(ignored?.activeState).toBe("active");
    expect(states.filter((s) => s.at >= t0 && s.change.name === "ignored.service")).toEqual([]);

    await client.watchUnits("all");
    const t1 = performance.now();
    await client.waitForJob(await client.stopUnit("ignored.service"));
    await waitState("ignored.service", "inactive", "dead", t1);

    // Narrowed again, then the connection is lost: the new connection keeps the narrowing.
    await client.watchUnits(["watched.service"]);
    let reconnected = false;
    client.once("reconnected", () => {
      reconnected = true;
    });
    await cluster.systemctl(0, "restart", "dbus.service");
    await expect.poll(() => reconnected, { timeout: 20_000, interval: 50 }).toBe(true);
    const t2 = performance.now();
    await client.waitForJob(await client.startUnit("ignored.service"));
    await client.waitForJob(await client.stopUnit("watched.service"));
    await waitState("watched.service", "inactive", "dead", t2);
    expect(states.filter((s) => s.at >= t2 && s.change.name === "ignored.service")).toEqual([]);

    await client.watchUnits("all");
    await client.waitForJob(await client.stopUnit("ignored.service"));
    await store.remove("watched.service");
    await store.remove("ignored.service");
  });

  it("(root) reconnects after dbus restarts in the host, subscribes again, and events flow", async () => {
    let reconnected = false;
    client.once("reconnected", () => {
      reconnected = true;
    });
    await cluster.systemctl(0, "restart", "dbus.service");
    await expect.poll(() => reconnected, { timeout: 20_000, interval: 50 }).toBe(true);
    await store.place("after.service", "[Service]\nExecStart=/bin/sleep 1000\n");
    await client.reload();
    const t0 = performance.now();
    const removed = await client.waitForJob(await client.startUnit("after.service"));
    expect(removed.result).toBe("done");
    await waitState("after.service", "active", "running", t0);
    await client.waitForJob(await client.stopUnit("after.service"));
    await store.remove("after.service");
  });

  it("(root) when the bus refuses more match rules, every unit's changes still arrive", async () => {
    const host = cluster.hosts[0];
    if (host === undefined) throw new Error("no host");
    // dbus-daemon's per-connection limit, lowered in this host: more units than it allows.
    const conf = path.join(host.rootDir, "etc/dbus-1/system.d/zz-fleet-test-limits.conf");
    const restartBus = async () => {
      let reconnected = false;
      client.once("reconnected", () => {
        reconnected = true;
      });
      await cluster.systemctl(0, "restart", "dbus.service");
      await expect.poll(() => reconnected, { timeout: 20_000, interval: 50 }).toBe(true);
    };
    writeFileSync(
      conf,
      '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n' +
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n' +
        '<busconfig><limit name="max_match_rules_per_connection">40</limit></busconfig>\n',
    );
    try {
      await restartBus();
      const names = Array.from({ length: 60 }, (_, i) => `limited${i}.service`);
      await client.watchUnits([...names, "past-limit.service"]);
      expect(clientLog.lines.some((l) => l.includes("the bus refuses more match rules"))).toBe(
        true,
      );
      // Past the limit: only the rule for every unit can deliver this one's changes.
      await store.place("past-limit.service", "[Service]\nExecStart=/bin/sleep 1000\n");
      await client.reload();
      const t0 = performance.now();
      await client.waitForJob(await client.startUnit("past-limit.service"));
      await waitState("past-limit.service", "active", "running", t0);
      await client.waitForJob(await client.stopUnit("past-limit.service"));
      await store.remove("past-limit.service");
    } finally {
      rmSync(conf, { force: true });
      await restartBus();
      await client.watchUnits("all");
    }
  });
});
