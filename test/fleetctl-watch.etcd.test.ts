/**
 * fleetctl's additions beyond fleet against the real API (in-process, real etcd, real
 * WebSocket over the unix socket): `list-units --watch` and `list-unit-files --watch` (tables
 * redrawn, or JSON events with -o json), `drain`/`undrain`, and a token-protected TCP API.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, createApi } from "../agent/api/api.js";
import { type Listener, listen } from "../agent/api/server.js";
import { memoryLogger } from "../agent/logging/logger.js";
import { MachinePresence } from "../agent/registry/machines.js";
import { Registry } from "../agent/registry/registry.js";
import { runFleetctl } from "../cli/program.js";
import { unitHash } from "../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { freePort } from "./harness/ports.js";

const M1 = "aaaaaaaa000000000000000000000001";
const M2 = "bbbbbbbb000000000000000000000002";
const TOKEN = "watch-test-token";

let etcd: EtcdCluster;
let registry: Registry;
let api: Api;
let unixL: Listener;
let tcpL: Listener;
let port: number;
let dir: string;
const presences: MachinePresence[] = [];

interface Running {
  out: () => string;
  err: () => string;
  /** Ends it as Ctrl-C would. */
  stop: () => Promise<number>;
  done: Promise<number>;
}

function start(args: string[], env: Record<string, string> = {}): Running {
  let out = "";
  let err = "";
  const abort = new AbortController();
  const done = runFleetctl(args, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    env: { FLEETCTL_ENDPOINT: `unix://${join(dir, "fleet.sock")}`, ...env },
    cwd: dir,
    isTTY: false,
    signal: abort.signal,
  });
  return {
    out: () => out,
    err: () => err,
    stop: async () => {
      abort.abort();
      return done;
    },
    done,
  };
}

async function fleetctl(args: string[], env: Record<string, string> = {}) {
  const r = start(args, env);
  const code = await r.done;
  return { out: r.out(), err: r.err(), code };
}

const options = [{ section: "Service", name: "ExecStart", value: "/bin/sleep 1000" }];
const hash = unitHash(options);

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/ctlwatch/", log: memoryLogger() });
  api = createApi({ registry, tokenLimit: 100, version: "test", log: memoryLogger() });
  dir = mkdtempSync(join(tmpdir(), "fleetctl-watch-"));
  unixL = await listen(`unix://${join(dir, "fleet.sock")}`, api.handler, { upgrade: api.upgrade });
  port = await freePort();
  tcpL = await listen(`tcp://127.0.0.1:${port}`, api.handler, {
    token: TOKEN,
    upgrade: api.upgrade,
  });
  for (const [id, ip] of [
    [M1, "127.0.0.31"],
    [M2, "127.0.0.32"],
  ] as const) {
    presences.push(
      await MachinePresence.register({
        client: registry.client,
        kv: registry.kv,
        keys: registry.keys,
        log: registry.log,
        record: { id, publicIP: ip, metadata: { role: "web" }, version: "t", startedAt: 0 },
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

describe("(etcd) fleetctl --watch over the API's event stream", () => {
  it("(etcd) list-units --watch redraws the table on every state change", async () => {
    const w = start(["list-units", "--watch"]);
    await expect.poll(w.out).toBe("UNIT\tMACHINE\tACTIVE\tSUB\n\n");
    await registry.states.publish(M1, presences[0]?.leaseId as string, [
      {
        unit: "web.service",
        state: {
          loadState: "loaded",
          activeState: "activating",
          subState: "start",
          hash,
          since: 1,
        },
      },
    ]);
    await expect.poll(w.out).toContain("web.service\taaaaaaaa.../127.0.0.31\tactivating\tstart\n");
    await registry.states.publish(M1, presences[0]?.leaseId as string, [
      {
        unit: "web.service",
        state: { loadState: "loaded", activeState: "active", subState: "running", hash, since: 2 },
      },
    ]);
    await expect.poll(w.out).toContain("web.service\taaaaaaaa.../127.0.0.31\tactive\trunning\n");
    await registry.states.publish(M1, presences[0]?.leaseId as string, [
      { unit: "web.service", state: undefined },
    ]);
    // The last table drawn is the empty one again.
    await expect.poll(() => w.out().endsWith("\n\nUNIT\tMACHINE\tACTIVE\tSUB\n\n")).toBe(true);
    const tables = w.out().split("\n\n").filter(Boolean);
    expect(tables[0]).toBe("UNIT\tMACHINE\tACTIVE\tSUB");
    expect(tables).toHaveLength(4);
    expect(await w.stop()).toBe(0);
    expect(w.err()).toBe("");
  });

  it("(etcd) list-unit-files --watch -o json prints one event per line", async () => {
    await registry.units.create({ name: "a.service", options, hash, desiredState: "inactive" });
    const w = start(["list-unit-files", "--watch", "-o", "json"]);
    await expect.poll(() => w.out().includes('"type":"ready"')).toBe(true);
    await registry.units.setDesiredState("a.service", "launched");
    await expect.poll(() => w.out().includes('"desiredState":"launched"')).toBe(true);
    expect(await w.stop()).toBe(0);
    const events = w
      .out()
      .split("\n")
      .filter(Boolean)
      .map(
        (l) => JSON.parse(l) as { type: string; name?: string; unit?: { desiredState: string } },
      );
    // The snapshot (the unit, and the machines for the TARGET column), then ready, then live.
    const ready = events.findIndex((e) => e.type === "ready");
    expect(
      events
        .slice(0, ready)
        .map((e) => e.type)
        .sort(),
    ).toEqual(["machine", "machine", "unit"]);
    const snap = events.find((e) => e.type === "unit");
    expect(snap).toMatchObject({ op: "put", name: "a.service" });
    expect(snap?.unit?.desiredState).toBe("inactive");
    expect(events.slice(ready + 1).some((e) => e.unit?.desiredState === "launched")).toBe(true);
    // kinds=unit only: list-unit-files without machine columns asked for no state or machine.
    const w2 = start(["list-unit-files", "--watch", "-o", "json", "--fields=unit,dstate"]);
    await expect.poll(() => w2.out().includes('"type":"ready"')).toBe(true);
    await w2.stop();
    expect(w2.out()).not.toContain('"type":"machine"');
    await registry.units.destroy("a.service");
  });

  it("(etcd) --watch works over TCP with the bearer token, and is refused without it", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const tcp = `http://127.0.0.1:${port}`;
    const w = start(["--endpoint", tcp, "--token-file", tokenFile, "list-units", "--watch"]);
    await expect.poll(w.out).toBe("UNIT\tMACHINE\tACTIVE\tSUB\n\n");
    expect(await w.stop()).toBe(0);
    const denied = await fleetctl(["--endpoint", tcp, "list-units", "--watch"]);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain("googleapi: Error 401: missing or wrong bearer token");
  });
});

describe("(etcd) listings in one read", () => {
  it("(etcd) list-units from the event snapshot equals the paged listing", async () => {
    // A second socket on the same API without the event stream: fleetctl pages, as with fleet.
    const paged = await listen(`unix://${join(dir, "paged.sock")}`, api.handler);
    try {
      await registry.units.create({ name: "b.service", options, hash, desiredState: "launched" });
      await registry.schedule.apply(
        [
          {
            type: "schedule",
            machineId: M2,
            unit: "b.service",
            entry: { hash, desiredState: "launched" },
          },
        ],
        [],
      );
      await registry.states.publish(M2, presences[1]?.leaseId as string, [
        {
          unit: "b.service",
          state: {
            loadState: "loaded",
            activeState: "active",
            subState: "running",
            hash,
            since: 1,
          },
        },
      ]);
      const env = { FLEETCTL_ENDPOINT: `unix://${join(dir, "paged.sock")}` };
      for (const args of [
        ["list-units"],
        ["list-units", "--full", "--fields=unit,machine,active,sub,load,hash"],
        ["list-units", "-o", "json"],
      ]) {
        const pagedResult = await fleetctl(args, env);
        expect(pagedResult.out).toContain("b.service");
        // The snapshot comes from the API's event feed, which follows etcd's watch: it may be
        // a few milliseconds behind a write made just before.
        await expect.poll(() => fleetctl(args)).toEqual(pagedResult);
      }
      await registry.schedule.apply([{ type: "unschedule", machineId: M2, unit: "b.service" }], []);
      await registry.states.publish(M2, presences[1]?.leaseId as string, [
        { unit: "b.service", state: undefined },
      ]);
      await registry.units.destroy("b.service");
    } finally {
      await paged.close();
    }
  });
});

describe("(etcd) fleetctl drain and undrain", () => {
  it("(etcd) drains a machine named by its short ID, shows it, and undrains it", async () => {
    const d = await fleetctl(["drain", "aaaaaaaa"]);
    expect(d).toEqual({ out: `Machine ${M1} draining\n`, err: "", code: 0 });
    expect(
      (await fleetctl(["list-machines", "--fields=machine,ip,draining", "--no-legend"])).out,
    ).toBe("aaaaaaaa...\t127.0.0.31\ttrue\nbbbbbbbb...\t127.0.0.32\tfalse\n");
    const json = JSON.parse((await fleetctl(["list-machines", "-o", "json"])).out) as {
      id: string;
      draining?: boolean;
    }[];
    expect(json.find((m) => m.id === M1)?.draining).toBe(true);
    expect(json.find((m) => m.id === M2)?.draining).toBeUndefined();
    const u = await fleetctl(["undrain", M1]);
    expect(u).toEqual({
      out: `Machine ${M1} undrained: units may be placed on it again\n`,
      err: "",
      code: 0,
    });
    expect((await fleetctl(["list-machines", "--fields=draining", "--no-legend"])).out).toBe(
      "false\nfalse\n",
    );
  });

  it("(etcd) refuses an unknown or ambiguous machine", async () => {
    expect(await fleetctl(["drain", "cccc"])).toEqual({
      out: "",
      err: "Machine cccc not found: see fleetctl list-machines\n",
      code: 1,
    });
    const twoLike = await fleetctl(["drain", ""]);
    expect(twoLike.code).toBe(1);
    expect(twoLike.err).toBe(`Machine  is ambiguous: it matches ${M1}, ${M2}\n`);
  });
});
