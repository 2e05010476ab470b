/**
 * The event stream and the drain and reason extensions, on a real etcd with real HTTP and
 * WebSocket connections (unix socket and TCP with a bearer token).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { freePort } from "../../test/harness/ports.js";
import { memoryLogger } from "../logging/logger.js";
import type { MachineRecord, UnitRecord } from "../registry/codecs.js";
import { MachinePresence } from "../registry/machines.js";
import { Registry } from "../registry/registry.js";
import { type Api, createApi } from "./api.js";
import { readWireUnits } from "./reads.js";
import { type Listener, listen } from "./server.js";

const M1 = "a1".repeat(16);
const M2 = "b2".repeat(16);
const H1 = "1".repeat(40);
const H2 = "2".repeat(40);
const TOKEN = "s3cret-token";
const log = memoryLogger("debug");

let etcd: EtcdCluster;
let registry: Registry;
let api: Api;
let unixL: Listener;
let tcpL: Listener;
let dir: string;
let socket: string;
let port: number;
const presences: MachinePresence[] = [];

const unit = (name: string, hash = H1, extra = ""): UnitRecord => ({
  name,
  hash,
  desiredState: "launched",
  options: [{ section: "Service", name: "ExecStart", value: `/bin/sleep 1000${extra}` }],
});
const machine = (id: string, ip: string): MachineRecord => ({
  id,
  publicIP: ip,
  metadata: { role: "web" },
  version: "t",
  startedAt: 0,
});

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/ev/", log });
  api = createApi({
    registry,
    tokenLimit: 100,
    version: "test",
    log,
    clientLimitBytes: 256 * 1024,
  });
  dir = mkdtempSync(join(tmpdir(), "fleet-events-"));
  socket = join(dir, "fleet.sock");
  unixL = await listen(`unix://${socket}`, api.handler, { upgrade: api.upgrade });
  port = await freePort();
  tcpL = await listen(`tcp://127.0.0.1:${port}`, api.handler, {
    token: TOKEN,
    upgrade: api.upgrade,
  });
  for (const [id, ip] of [
    [M1, "127.0.0.21"],
    [M2, "127.0.0.22"],
  ] as const) {
    presences.push(
      await MachinePresence.register({
        client: registry.client,
        kv: registry.kv,
        keys: registry.keys,
        log,
        record: machine(id, ip),
        ttlSeconds: 30,
      }),
    );
  }
});

afterAll(async () => {
  for (const p of presences) await p.revoke().catch(() => {});
  await api?.close();
  await unixL?.close();
  await tcpL?.close();
  registry?.close();
  await etcd?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

type Msg = { type: string; revision?: number; [k: string]: unknown };

/** A WebSocket client that keeps every message it received. */
class Client {
  readonly messages: Msg[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly ws: WebSocket;
  constructor(query = "", ws?: WebSocket) {
    this.ws = ws ?? new WebSocket(`ws+unix://${socket}:/fleet/v1/events${query}`);
    this.ws.on("message", (d) => this.messages.push(JSON.parse(d.toString()) as Msg));
    this.ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }
  async until(pred: (m: Msg[]) => boolean, what: string): Promise<void> {
    await expect.poll(() => pred(this.messages), { timeout: 15_000, message: what }).toBe(true);
  }
  ready(): Msg | undefined {
    return this.messages.find((m) => m.type === "ready");
  }
  after(type = "ready"): Msg[] {
    const i = this.messages.findIndex((m) => m.type === type);
    return this.messages.slice(i + 1);
  }
  close(): void {
    this.ws.close();
  }
}

/** The HTTP answer an upgrade request got instead of a WebSocket. */
function refused(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => {
      ws.close();
      reject(new Error(`${url} was upgraded`));
    });
    ws.on("error", () => {});
  });
}

function call(method: string, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
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

const sched = (unitName: string, machineId: string, desiredState: "loaded" | "launched") =>
  registry.schedule.apply(
    [{ type: "schedule", unit: unitName, machineId, entry: { hash: H1, desiredState } }],
    [],
  );

describe("(etcd) GET /fleet/v1/events", () => {
  it("(etcd) snapshot=true: every unit, state and machine at one revision, then ready, then live", async () => {
    await registry.units.create(unit("snap.service"));
    await sched("snap.service", M1, "launched");
    await registry.states.publish(M1, "0", [
      {
        unit: "snap.service",
        state: {
          loadState: "loaded",
          activeState: "active",
          subState: "running",
          hash: H1,
          since: 1,
        },
      },
    ]);
    const c = new Client("?snapshot=true");
    await c.until((m) => m.some((x) => x.type === "ready"), "ready");
    const ready = c.ready() as Msg;
    const before = c.messages.slice(0, c.messages.indexOf(ready));
    expect(before.every((m) => m.revision === ready.revision)).toBe(true);
    expect(before.find((m) => m.type === "unit" && m.name === "snap.service")).toEqual({
      type: "unit",
      op: "put",
      revision: ready.revision,
      name: "snap.service",
      unit: {
        currentState: "launched",
        desiredState: "launched",
        machineID: M1,
        name: "snap.service",
        options: [{ name: "ExecStart", section: "Service", value: "/bin/sleep 1000" }],
      },
    });
    expect(before.find((m) => m.type === "state")).toMatchObject({
      op: "put",
      name: "snap.service",
      machineID: M1,
      state: { hash: H1, machineID: M1, systemdActiveState: "active", systemdSubState: "running" },
    });
    expect(before.filter((m) => m.type === "machine").map((m) => m.id)).toEqual([M1, M2]);
    expect(before.find((m) => m.id === M1)).toMatchObject({
      machine: { id: M1, metadata: { role: "web" }, primaryIP: "127.0.0.21" },
    });

    // Live: a desired-state change, then the unit's destruction.
    await registry.units.setDesiredState("snap.service", "loaded");
    await c.until(
      (m) => m.some((x) => x.type === "unit" && (x.unit as UnitRecord)?.desiredState === "loaded"),
      "desired state change",
    );
    await registry.units.destroy("snap.service");
    await c.until((m) => m.some((x) => x.type === "unit" && x.op === "delete"), "unit deletion");
    const live = c.after();
    expect(live.every((m) => (m.revision as number) > (ready.revision as number))).toBe(true);
    const revisions = live.map((m) => m.revision as number);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(live.find((m) => m.op === "delete")).toEqual({
      type: "unit",
      op: "delete",
      revision: expect.any(Number),
      name: "snap.service",
    });
    c.close();
    // No engine here: clear what it would have.
    await registry.schedule.apply(
      [{ type: "unschedule", unit: "snap.service", machineId: M1 }],
      [],
    );
    await registry.states.publish(M1, "0", [{ unit: "snap.service", state: undefined }]);
  });

  it("(etcd) from=R delivers exactly the changes after R that a live client saw, without duplicates", async () => {
    const live = new Client();
    await live.until((m) => m.some((x) => x.type === "ready"), "ready");
    const r0 = live.ready()?.revision as number;
    await registry.units.create(unit("resume.service"));
    await sched("resume.service", M2, "loaded");
    await registry.units.update("resume.service", () => unit("resume.service", H2, "1"));
    await registry.states.publish(M2, "0", [
      {
        unit: "resume.service",
        state: {
          loadState: "loaded",
          activeState: "inactive",
          subState: "dead",
          hash: H2,
          since: 2,
        },
      },
    ]);
    await registry.units.destroy("resume.service");
    await live.until(
      (m) => m.some((x) => x.type === "unit" && x.op === "delete" && x.name === "resume.service"),
      "live client saw the deletion",
    );
    const seen = live.after().filter((m) => (m.revision as number) > r0);
    expect(seen.length).toBeGreaterThanOrEqual(5);

    // Served from the shared feed's recent messages: no watch of its own.
    const resumed = new Client(`?from=${r0}`);
    await resumed.until((m) => m.length >= seen.length + 1, "resumed client caught up");
    expect(resumed.messages[0]).toEqual({ type: "ready", revision: r0 });
    expect(resumed.after()).toEqual(seen);
    const mid = seen[2]?.revision as number;
    const fromMid = new Client(`?from=${mid}`);
    const expected = seen.filter((m) => (m.revision as number) > mid);
    await fromMid.until((m) => m.length >= expected.length + 1, "client resumed mid-way");
    expect(fromMid.after()).toEqual(expected);
    expect(api.events.watches).toBe(1);

    // A fresh fleetd's shared feed starts now, after r0 and mid: each resume gets its own watch,
    // listed at its revision, and still exactly the same messages; once caught up, each is
    // handed over to the shared feed and its own watch ends.
    const other = createApi({ registry, tokenLimit: 100, version: "test", log });
    const otherSocket = join(dir, "other.sock");
    const otherL = await listen(`unix://${otherSocket}`, other.handler, { upgrade: other.upgrade });
    const url = (q: string) => `ws+unix://${otherSocket}:/fleet/v1/events${q}`;
    const fresh = new Client("", new WebSocket(url(`?from=${r0}`)));
    const freshMid = new Client("", new WebSocket(url(`?from=${mid}`)));
    await fresh.until((m) => m.length >= seen.length + 1, "fresh resumed client caught up");
    await freshMid.until((m) => m.length >= expected.length + 1, "fresh mid client caught up");
    expect(fresh.messages[0]).toEqual({ type: "ready", revision: r0 });
    expect(fresh.after()).toEqual(seen);
    expect(freshMid.after()).toEqual(expected);
    await expect.poll(() => other.events.watches, { timeout: 15_000 }).toBe(1);
    // Live changes after the hand-over still arrive, once each.
    await registry.units.create(unit("after-handover.service"));
    for (const c of [fresh, freshMid, live])
      await c.until(
        (m) => m.some((x) => x.type === "unit" && x.name === "after-handover.service"),
        "a change after the hand-over",
      );
    const copies = (c: Client) =>
      c.messages.filter((x) => x.type === "unit" && x.name === "after-handover.service").length;
    expect([copies(fresh), copies(freshMid)]).toEqual([copies(live), copies(live)]);
    expect(fresh.after().slice(0, seen.length)).toEqual(seen);
    for (const c of [live, resumed, fromMid, fresh, freshMid]) c.close();
    await other.close();
    await otherL.close();
  });

  it("(etcd) a unit is sent again when its agent reports reaching it (currentState follows)", async () => {
    await registry.units.create(unit("reach.service"));
    await sched("reach.service", M1, "launched");
    const c = new Client();
    await c.until((m) => m.some((x) => x.type === "ready"), "ready");
    await registry.states.publish(M1, "0", [
      {
        unit: "reach.service",
        state: {
          loadState: "loaded",
          activeState: "active",
          subState: "running",
          hash: H1,
          since: 2,
        },
      },
    ]);
    await c.until(
      (m) =>
        m.some(
          (x) =>
            x.type === "unit" &&
            x.name === "reach.service" &&
            (x.unit as { currentState?: string } | undefined)?.currentState === "launched",
        ),
      "unit put with currentState launched",
    );
    // Derived once per change: the state and the unit, no duplicate of either.
    const after = c.after().filter((x) => x.name === "reach.service");
    expect(after.map((x) => x.type).sort()).toEqual(["state", "unit"]);
    c.close();
    // Leave M1 as the drain tests expect it.
    await registry.states.publish(M1, "0", [{ unit: "reach.service", state: undefined }]);
    await registry.schedule.apply(
      [{ type: "unschedule", unit: "reach.service", machineId: M1 }],
      [],
    );
    await registry.units.destroy("reach.service");
  });

  it("(etcd) a broken WebSocket handshake is a 400 before any stream starts", async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          socketPath: socket,
          path: "/fleet/v1/units/x.service/journal?follow=true",
          headers: { Connection: "Upgrade", Upgrade: "websocket" }, // no Sec-WebSocket-Key
        },
        (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status.status).toBe(400);
    expect(JSON.parse(status.body).error.message).toMatch(/Sec-WebSocket-Key/);
  });

  it("(etcd) kinds=machine delivers machines only", async () => {
    const c = new Client("?kinds=machine&snapshot=true");
    await c.until((m) => m.some((x) => x.type === "ready"), "ready");
    await registry.units.create(unit("kinds.service"));
    await registry.machines.patchMetadata(M2, [{ op: "add", key: "disk", value: "ssd" }]);
    await c.until(
      (m) =>
        m.some((x) => (x.machine as { metadata?: { disk?: string } })?.metadata?.disk === "ssd"),
      "metadata change",
    );
    expect(new Set(c.messages.map((m) => m.type))).toEqual(new Set(["machine", "ready"]));
    await registry.units.destroy("kinds.service");
    c.close();
  });

  it("(etcd) from older than etcd's compaction: error 410, then close", async () => {
    // Older than anything the shared feed holds in memory (it would serve that without etcd).
    const old = 2;
    await registry.units.create(unit("compact.service"));
    await registry.units.destroy("compact.service");
    const now = (await registry.kv.range("/ev/")).revision;
    await registry.client.kv.compact({ revision: now, physical: true });
    const c = new Client(`?from=${old}`);
    await expect.poll(() => c.closed, { timeout: 15_000 }).toBeDefined();
    expect(c.messages).toEqual([
      { type: "error", code: 410, message: expect.stringMatching(/compacted.*snapshot=true/) },
    ]);
    expect(c.closed?.code).toBe(4410);
  });

  it.each([
    ["?from=abc", /from=abc is not an etcd revision/],
    ["?from=3&snapshot=true", /cannot be combined/],
    ["?kinds=unit,bogus", /kinds=unit,bogus/],
    ["?snapshot=yes", /snapshot=yes/],
    ["?frm=3", /unknown query parameter frm/],
  ])("(etcd) a bad query (%s) is a 400 error entity before any upgrade", async (query, message) => {
    const r = await refused(`ws+unix://${socket}:/fleet/v1/events${query}`);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({
      error: { code: 400, message: expect.stringMatching(message) },
    });
  });

  it("(etcd) a plain GET of the stream says it is a WebSocket", async () => {
    const r = await call("GET", "/fleet/v1/events");
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/WebSocket/);
  });

  it("(etcd) on TCP the upgrade needs the bearer token", async () => {
    const url = `ws://127.0.0.1:${port}/fleet/v1/events`;
    const r = await refused(url);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error.message).toMatch(/bearer token/);
    expect((await refused(url, { Authorization: "Bearer wrong-token!" })).status).toBe(401);
    const c = new Client("", new WebSocket(url, { headers: { Authorization: `Bearer ${TOKEN}` } }));
    await c.until((m) => m.some((x) => x.type === "ready"), "ready over TCP");
    c.close();
  });

  it("(etcd) a client that stops reading is dropped with a reason; the others keep going", async () => {
    const slow = new Client();
    const fast = new Client();
    await slow.until((m) => m.some((x) => x.type === "ready"), "ready");
    await fast.until((m) => m.some((x) => x.type === "ready"), "ready");
    slow.ws.pause();
    const big = "x".repeat(20_000);
    const names = Array.from({ length: 250 }, (_, i) => `big${i}.service`);
    for (const n of names) await registry.units.create(unit(n, H1, big));
    await expect
      .poll(() => log.lines.some((l) => l.includes("dropping an event client")), {
        timeout: 30_000,
      })
      .toBe(true);
    slow.ws.resume();
    await expect.poll(() => slow.closed, { timeout: 30_000 }).toBeDefined();
    expect(slow.closed?.code).toBe(1008);
    expect(slow.closed?.reason).toMatch(/client too slow/);
    await fast.until(
      (m) => m.filter((x) => x.type === "unit").length === names.length,
      "fast client got all",
    );
    fast.close();
    await registry.kv.txn([], [{ type: "deletePrefix", prefix: registry.keys.unit("big") }]);
  });
});

describe("(etcd) drain and reasons over the API", () => {
  it("(etcd) POST drains (202, with what still runs there), GET tells, DELETE undrains", async () => {
    await registry.units.create(unit("on-m1.service"));
    await sched("on-m1.service", M1, "launched");
    const watcher = new Client("?kinds=machine");
    await watcher.until((m) => m.some((x) => x.type === "ready"), "ready");

    const post = await call("POST", `/fleet/v1/machines/${M1}/drain`);
    expect(post.status).toBe(202);
    expect(JSON.parse(post.body)).toEqual({
      machineID: M1,
      draining: true,
      units: ["on-m1.service"],
    });
    expect(await registry.drains.get(M1)).toBeDefined();
    const machines = JSON.parse((await call("GET", "/fleet/v1/machines")).body);
    expect(machines.machines.find((m: { id: string }) => m.id === M1).draining).toBe(true);
    expect("draining" in machines.machines.find((m: { id: string }) => m.id === M2)).toBe(false);
    await watcher.until(
      (m) => m.some((x) => x.id === M1 && (x.machine as { draining?: boolean })?.draining === true),
      "machine event with draining",
    );
    expect(JSON.parse((await call("GET", `/fleet/v1/machines/${M1}/drain`)).body)).toEqual({
      machineID: M1,
      draining: true,
      units: ["on-m1.service"],
    });

    expect((await call("DELETE", `/fleet/v1/machines/${M1}/drain`)).status).toBe(204);
    expect(await registry.drains.get(M1)).toBeUndefined();
    expect(JSON.parse((await call("GET", `/fleet/v1/machines/${M1}/drain`)).body).draining).toBe(
      false,
    );
    await watcher.until(
      (m) =>
        m.filter((x) => x.id === M1).length === 2 &&
        !("draining" in ((m.at(-1)?.machine as object | undefined) ?? { draining: 1 })),
      "machine event without draining",
    );
    watcher.close();
    await registry.units.destroy("on-m1.service");
  });

  it("(etcd) an unknown machine is a 404 for every drain route", async () => {
    const nobody = "c3".repeat(16);
    for (const method of ["GET", "POST", "DELETE"]) {
      const r = await call(method, `/fleet/v1/machines/${nobody}/drain`);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body).error.message).toMatch(/does not exist/);
    }
    expect(await registry.drains.get(nobody)).toBeUndefined();
  });

  it("(etcd) a unit placed nowhere carries the scheduler's reason; a placed one has none", async () => {
    await registry.units.create(unit("why.service"));
    await registry.schedule.apply(
      [{ type: "reason", unit: "why.service", reason: "no machine has region=mars" }],
      [],
    );
    const got = JSON.parse((await call("GET", "/fleet/v1/units/why.service")).body);
    expect(got).toMatchObject({ name: "why.service", reason: "no machine has region=mars" });
    expect(Object.keys(got).at(-1)).toBe("reason");
    const listed = JSON.parse((await call("GET", "/fleet/v1/units")).body);
    expect(listed.units.find((u: { name: string }) => u.name === "why.service").reason).toBe(
      "no machine has region=mars",
    );
    await registry.schedule.apply([{ type: "reason", unit: "why.service", reason: undefined }], []);
    await sched("why.service", M2, "launched");
    const placed = JSON.parse((await call("GET", "/fleet/v1/units/why.service")).body);
    expect(placed).toMatchObject({ machineID: M2 });
    expect("reason" in placed).toBe(false);
    await registry.units.destroy("why.service");
  });

  it("(etcd) GET /units/<name> reads in one round trip (two for a placement from before it carried the state)", async () => {
    await registry.units.create(unit("rt.service"));
    await sched("rt.service", M1, "launched");
    const one = await readWireUnits(registry, log, "rt.service");
    expect(one.roundTrips).toBe(1);
    expect(one.units[0]).toMatchObject({ name: "rt.service", machineID: M1 });
    await registry.kv.txn(
      [],
      [{ type: "put", key: registry.keys.placement("rt.service", M1), value: Buffer.from("{}") }],
    );
    const legacy = await readWireUnits(registry, log, "rt.service");
    expect(legacy.roundTrips).toBe(2);
    expect(legacy.units).toEqual(one.units);
    await registry.schedule.apply([{ type: "unschedule", unit: "rt.service", machineId: M1 }], []);
    await registry.units.destroy("rt.service");
  });
});
