/**
 * fleetd deployed as fleet was: a systemd service inside a real host, configured by
 * /etc/fleet/fleet.conf (needs root). Restarting or stopping fleetd bounces no unit.
 */
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryLogger } from "../agent/logging/logger.js";
import { Registry } from "../agent/registry/registry.js";
import { parseUnitFile, unitHash } from "../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootHosts, type Cluster } from "./harness/hosts.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
let etcd: EtcdCluster;
let cluster: Cluster;
let registry: Registry;

beforeAll(async () => {
  etcd = await startEtcd();
  const fleetConf = `etcd_servers=${etcd.endpoints.join(",")}\netcd_key_prefix=/svc/\nagent_ttl=10s\nmetadata=role=svc,rack=1\npublic_ip=10.9.9.9\n`;
  const service = `[Unit]\nDescription=fleet-ts daemon (test)\n[Service]\nExecStart=/usr/bin/node --import file://${REPO}/node_modules/tsx/dist/esm/index.mjs ${REPO}/agent/main.ts\nKillMode=process\nRestart=always\n[Install]\nWantedBy=multi-user.target\n`;
  cluster = await bootHosts({
    count: 1,
    binds: [REPO], // the checkout may be under /tmp, which each host has its own of
    files: () => ({
      "/etc/fleet/fleet.conf": fleetConf,
      "/etc/systemd/system/fleet.service": service,
      "/etc/systemd/system/multi-user.target.wants/fleet.service": {
        symlink: "/etc/systemd/system/fleet.service",
      },
    }),
  });
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/svc/", log: memoryLogger() });
}, 120_000);

afterAll(async () => {
  registry?.close();
  await cluster?.teardown();
  await etcd?.stop();
});

/** GET on the API fleetd serves inside the host, through its socket seen from outside. */
function apiGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socketPath = `${cluster.hosts[0]?.rootDir}/run/fleet.sock`;
    const req = request({ socketPath, path }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const sh = async (...args: string[]) => (await cluster.systemctl(0, ...args)).stdout.trim();
const T = { timeout: 30_000, interval: 100 };

describe("(root) fleetd as a systemd service in a host", () => {
  it("(root) joins with its configured metadata, runs units, and neither a restart nor a stop of fleetd bounces them", async () => {
    const host = cluster.hosts[0];
    await expect
      .poll(
        async () =>
          (await registry.machines.list()).machines.map((m) => [m.id, m.publicIP, m.metadata]),
        T,
      )
      .toEqual([[host?.machineId, "10.9.9.9", { role: "svc", rack: "1" }]]);

    const options = [
      ...parseUnitFile("[Service]\nExecStart=/bin/sleep 1000\nRestart=always\n").options,
    ];
    await registry.units.create({
      name: "app.service",
      options,
      hash: unitHash(options),
      desiredState: "launched",
    });
    await expect.poll(() => sh("is-active", "app.service"), T).toBe("active");
    const pid = await sh("show", "-p", "MainPID", "--value", "app.service");

    // The API fleetd serves in the host (unix:///var/run/fleet.sock, fleet's default).
    const machines = await apiGet("/fleet/v1/machines");
    expect(machines.body).toBe(
      `{"machines":[{"id":"${host?.machineId}","metadata":{"rack":"1","role":"svc"},"primaryIP":"10.9.9.9"}]}`,
    );
    await expect
      .poll(async () => JSON.parse((await apiGet("/fleet/v1/units/app.service")).body), T)
      .toMatchObject({
        name: "app.service",
        desiredState: "launched",
        currentState: "launched",
        machineID: host?.machineId,
      });

    const fleetdPid = await sh("show", "-p", "MainPID", "--value", "fleet.service");
    await sh("restart", "fleet.service");
    await expect
      .poll(() => sh("show", "-p", "MainPID", "--value", "fleet.service"), T)
      .not.toBe(fleetdPid);
    await expect.poll(() => sh("is-active", "fleet.service"), T).toBe("active");
    // The new fleetd resumed the lease (well within agent_ttl even on a loaded machine: a
    // shorter TTL made this test about node's start-up time), so its states stay published.
    await expect
      .poll(
        async () => (await registry.states.list("app.service")).states.map((s) => s.activeState),
        T,
      )
      .toEqual(["active"]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await sh("show", "-p", "MainPID", "--value", "app.service")).toBe(pid);

    await sh("stop", "fleet.service");
    await new Promise((r) => setTimeout(r, 1000));
    expect(await sh("is-active", "app.service")).toBe("active");
    expect(await sh("show", "-p", "MainPID", "--value", "app.service")).toBe(pid);
  }, 90_000);
});
