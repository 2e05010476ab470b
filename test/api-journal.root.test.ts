/**
 * The journal and status of a unit, asked of a fleetd that does not run it (needs root): two
 * real hosts run fleetd as a service, each with a TCP listener and the cluster's token; a
 * unit printing a line every 0.2 s runs on host B; host A's socket serves its journal and
 * status by proxying to B's fleetd at the apiUrl B advertises.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { memoryLogger } from "../agent/logging/logger.js";
import { Registry } from "../agent/registry/registry.js";
import { parseUnitFile, unitHash } from "../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootFleetHosts } from "./harness/fleet-hosts.js";
import type { Cluster } from "./harness/hosts.js";
import { freePort } from "./harness/ports.js";

const TOKEN = "journal-test-token";
const IP = (i: number) => `127.0.0.${41 + i}`;
let etcd: EtcdCluster;
let cluster: Cluster;
let registry: Registry;
let port: number;

/** beforeAll cannot use expect.poll: wait for a condition, or fail saying what never happened. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const sock = (i: number) => `${cluster.hosts[i]?.rootDir}/run/fleet.sock`;
const T = { timeout: 60_000, interval: 200 };

beforeAll(async () => {
  etcd = await startEtcd();
  port = await freePort();
  cluster = await bootFleetHosts({
    count: 2,
    conf: (i) =>
      [
        `etcd_servers=${etcd.endpoints.join(",")}`,
        "etcd_key_prefix=/journal/",
        `public_ip=${IP(i)}`,
        `api_listen=unix:///var/run/fleet.sock,tcp://${IP(i)}:${port}`,
        "api_token_file=/etc/fleet/api-token",
        "",
      ].join("\n"),
    files: () => ({ "/etc/fleet/api-token": `${TOKEN}\n` }),
  });
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/journal/", log: memoryLogger() });
  await waitFor(
    "both fleetds registered",
    async () => (await registry.machines.list()).machines.length === 2,
  );
  const b = cluster.hosts[1]?.machineId as string;
  const options = parseUnitFile(
    `[Service]\nExecStart=/bin/sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'\n[X-Fleet]\nMachineID=${b}\n`,
  ).options;
  await registry.units.create({
    name: "tick.service",
    options: [...options],
    hash: unitHash(options),
    desiredState: "launched",
  });
  await waitFor("tick.service running on host B", async () => {
    const { states } = await registry.states.list("tick.service");
    return states.length === 1 && states[0]?.machineId === b && states[0].subState === "running";
  });
}, 180_000);

afterAll(async () => {
  registry?.close();
  await cluster?.teardown();
  await etcd?.stop();
});

function get(i: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock(i), path }, (res) => {
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

type Msg = { type: string; line?: string; code?: number; message?: string };

function journal(i: number, query: string) {
  const messages: Msg[] = [];
  const state: { closed: boolean; refused?: { status: number; body: string } } = { closed: false };
  const ws = new WebSocket(`ws+unix://${sock(i)}:/fleet/v1/units/tick.service/journal${query}`);
  ws.on("message", (d) => messages.push(JSON.parse(d.toString()) as Msg));
  ws.on("close", () => {
    state.closed = true;
  });
  ws.on("unexpected-response", (_req, res) => {
    let body = "";
    res.on("data", (c) => {
      body += c;
    });
    res.on("end", () => {
      state.refused = { status: res.statusCode ?? 0, body };
    });
  });
  ws.on("error", () => {});
  return { ws, messages, state };
}

const ticks = (messages: Msg[]) =>
  messages.flatMap((m) => {
    const n = /tick (\d+)$/.exec(m.line ?? "")?.[1];
    return n === undefined ? [] : [Number(n)];
  });

describe("(root) journal and status through a fleetd that does not run the unit", () => {
  it("(root) both machines advertise their TCP listener as apiUrl", async () => {
    const { machines } = await registry.machines.list();
    expect(machines.map((m) => m.apiUrl).sort()).toEqual([
      `http://${IP(0)}:${port}`,
      `http://${IP(1)}:${port}`,
    ]);
  });

  it("(root) follow=true on host A streams host B's journal, and new lines keep coming", async () => {
    const j = journal(0, "?follow=true&lines=3");
    await expect.poll(() => ticks(j.messages).length, T).toBeGreaterThanOrEqual(3);
    expect(j.messages.every((m) => m.type === "line")).toBe(true);
    const seen = Math.max(...ticks(j.messages));
    await expect.poll(() => Math.max(...ticks(j.messages)), T).toBeGreaterThan(seen + 2);
    const t = ticks(j.messages);
    expect(t).toEqual([...t].sort((a, b) => a - b));
    expect(j.state.closed).toBe(false);
    const journalctls = async () =>
      (await cluster.exec(1, ["pgrep", "-x", "journalctl"])).stdout
        .trim()
        .split("\n")
        .filter(Boolean).length;
    expect(await journalctls()).toBe(1);
    j.ws.close();
    await expect.poll(() => j.state.closed, T).toBe(true);
    // The client went away: B's fleetd killed its journalctl.
    await expect.poll(journalctls, T).toBe(0);
  });

  it("(root) without follow the journal ends with an end message", async () => {
    const j = journal(0, "?lines=5");
    await expect.poll(() => j.state.closed, T).toBe(true);
    expect(j.messages.at(-1)).toEqual({ type: "end" });
    expect(ticks(j.messages).length).toBeGreaterThanOrEqual(4);
  });

  it("(root) status from either host is systemctl's text about the unit on B", async () => {
    const b = cluster.hosts[1]?.machineId as string;
    for (const i of [0, 1]) {
      const r = await get(i, "/fleet/v1/units/tick.service/status");
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body) as { machineID: string; exitCode: number; output: string };
      expect(body.machineID).toBe(b);
      expect(body.exitCode).toBe(0);
      expect(body.output).toMatch(/tick\.service/);
      expect(body.output).toMatch(/Active: active \(running\)/);
    }
  });

  it("(root) errors before the upgrade: unknown unit 404, bad query 400, wrong machine 400", async () => {
    const unknown = await get(0, "/fleet/v1/units/nope.service/status");
    expect(unknown.status).toBe(404);
    const bad = journal(0, "?lines=lots");
    await expect.poll(() => bad.state.refused, T).toBeDefined();
    expect(bad.state.refused?.status).toBe(400);
    expect(JSON.parse(bad.state.refused?.body ?? "{}").error.message).toMatch(/lines=lots/);
    const a = cluster.hosts[0]?.machineId as string;
    const wrong = await get(0, `/fleet/v1/units/tick.service/status?machineID=${a}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatch(/does not run tick\.service/);
  });
});
