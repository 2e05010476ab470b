/**
 * fleetd composed from its configuration, on real hosts (needs root): `disable_engine=true`
 * keeps a host out of the election.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../agent/config/load.js";
import { Fleetd } from "../agent/fleetd.js";
import { memoryLogger } from "../agent/logging/logger.js";
import { parseUnitFile, unitHash } from "../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootHosts, type Cluster } from "./harness/hosts.js";

let etcd: EtcdCluster;
let cluster: Cluster;
const daemons: Fleetd[] = [];
const tempDirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fleetd-api-"));
  tempDirs.push(d);
  return d;
}

function fleetd(i: number, env: Record<string, string>): Fleetd {
  const host = cluster.hosts[i];
  if (host === undefined) throw new Error(`no host ${i}`);
  const { config } = loadConfig({
    file: "/dev/null",
    env: {
      FLEET_ETCD_SERVERS: etcd.endpoints.join(","),
      FLEET_ETCD_KEY_PREFIX: "/fd/",
      FLEET_AGENT_TTL: "2s",
      FLEET_ENGINE_RECONCILE_INTERVAL: "0.5",
      FLEET_PUBLIC_IP: `10.0.0.${i + 1}`,
      // Never the machine's own /var/run/fleet.sock.
      FLEET_API_LISTEN: `unix://${tempDir()}/fleet.sock`,
      ...env,
    },
  });
  const d = new Fleetd({
    config,
    log: memoryLogger(),
    busAddress: host.busAddress,
    fsRoot: host.rootDir,
    machineId: host.machineId,
  });
  daemons.push(d);
  return d;
}

beforeAll(async () => {
  etcd = await startEtcd();
  cluster = await bootHosts({ count: 2 });
}, 120_000);

afterAll(async () => {
  for (const d of daemons) await d.stop().catch(() => {});
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  await cluster?.teardown();
  await etcd?.stop();
});

describe("(root) fleetd", () => {
  it("(root) a host with disable_engine=true never leads; the cluster waits for one that may", async () => {
    const a = fleetd(0, { FLEET_METADATA: "role=a" });
    const b = fleetd(1, { FLEET_METADATA: "role=b", FLEET_DISABLE_ENGINE: "true" });
    await a.start();
    await b.start();
    expect(b.engine).toBeUndefined();
    await expect.poll(() => a.engine?.isLeader, { timeout: 10_000 }).toBe(true);

    await a.stop(); // the only possible leader goes
    const options = [
      ...parseUnitFile("[Service]\nExecStart=/bin/sleep 1000\n[X-Fleet]\nMachineMetadata=role=b\n")
        .options,
    ];
    await b.registry.units.create({
      name: "x.service",
      options,
      hash: unitHash(options),
      desiredState: "launched",
    });
    await new Promise((r) => setTimeout(r, 3000));
    expect(
      (await b.registry.kv.range(b.registry.keys.placementPrefix("x.service"))).kvs,
    ).toHaveLength(0);

    const c = fleetd(0, { FLEET_METADATA: "role=a" }); // a host that may lead comes back
    await c.start();
    await expect
      .poll(
        async () => (await b.registry.states.list("x.service")).states.map((s) => s.activeState),
        { timeout: 15_000 },
      )
      .toEqual(["active"]);
    expect((await cluster.systemctl(1, "is-active", "x.service")).stdout.trim()).toBe("active");
  });
});
