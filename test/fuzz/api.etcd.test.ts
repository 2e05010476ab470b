/**
 * 10,000 random requests against the real API (in process, on a unix socket) on a real etcd
 * (needs etcd): PUT /fleet/v1/units/<random name> with random JSON bodies and unit options,
 * PATCH /fleet/v1/machines with random JSON Patch lists, GETs with random query strings.
 *
 * For every one: never a 5xx (the API turns every bad input into a 4xx), a 4xx carries fleet's
 * error entity `{"error":{"code":<status>,"message":"<what is wrong>"}}`, and a rejected
 * mutation changes nothing (etcd's revision is the same before and after it). The server keeps
 * answering throughout (a final request is served). Mutations go one at a time so that each
 * one's revision check is exact; GETs go in concurrent batches over keep-alive connections.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiHandler } from "../../agent/api/routes.js";
import { type Listener, listen } from "../../agent/api/server.js";
import { memoryLogger } from "../../agent/logging/logger.js";
import { MachinePresence } from "../../agent/registry/machines.js";
import { Registry } from "../../agent/registry/registry.js";
import { parseUnitFile, unitHash } from "../../units/unit-file.js";
import { type EtcdCluster, startEtcd } from "../harness/etcd.js";

const M = "5e1f7c0a9b3d4e2f8a6c1b0d9e8f7a6b";
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
let etcd: EtcdCluster;
let registry: Registry;
let api: Listener;
let dir: string;
let socket: string;
let presence: MachinePresence;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const apiLog = memoryLogger("error");

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/fuzz/", log: memoryLogger() });
  dir = mkdtempSync(join(tmpdir(), "fleet-fuzz-"));
  socket = join(dir, "fleet.sock");
  api = await listen(
    `unix://${socket}`,
    apiHandler({
      registry,
      tokenLimit: 100,
      version: "fuzz",
      log: apiLog,
      maxBodyBytes: 64 * 1024,
    }),
  );
  presence = await MachinePresence.register({
    client: registry.client,
    kv: registry.kv,
    keys: registry.keys,
    log: registry.log,
    record: { id: M, publicIP: "10.1.1.1", metadata: { role: "web" }, version: "t", startedAt: 0 },
    ttlSeconds: 60,
  });
  // A few real units for names and pages to collide with.
  for (const name of ["web.service", "db@1.service", "tpl@.service"]) {
    const options = [...parseUnitFile("[Service]\nExecStart=/bin/true\n").options];
    await registry.units.create({ name, options, hash: unitHash(options), desiredState: "loaded" });
  }
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await presence?.revoke().catch(() => {});
  await api?.close();
  registry?.close();
  await etcd?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  readonly status: number;
  readonly body: string;
}

function call(method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers["Content-Type"] = contentType;
    if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
    const req = request({ socketPath: socket, agent, method, path, headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        data += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function revision(): Promise<string> {
  const res = await registry.client.kv.range({ key: Buffer.from("/fuzz/"), count_only: true });
  return String(res.header.revision);
}

/**
 * Whether the API routes this path to a resource (after the URL normalisation it does itself:
 * `/fleet/v1/units/.` is `/fleet/v1/units/`). For paths it does not route, fleet answered 404
 * with an empty message, and so does the API, byte for byte; everything else carries one.
 */
function routed(path: string): boolean {
  const p = new URL(path, "http://fleet").pathname;
  return /^\/(?:fleet\/v1|v1-alpha)\/(?:units|state|machines|discovery)(?:\/[^/]+)?$/.test(p);
}

/** What every answer must be: no 5xx; a 4xx is fleet's error entity with a message. */
function checkReply(what: string, r: Reply, path: string): void {
  if (r.status >= 500 || r.status < 200) {
    throw new Error(`${what}: status ${r.status}: ${r.body.slice(0, 300)}`);
  }
  if (r.status < 400) return;
  let entity: unknown;
  try {
    entity = JSON.parse(r.body);
  } catch {
    throw new Error(`${what}: ${r.status} without a JSON error entity: ${r.body.slice(0, 300)}`);
  }
  const e = (entity as { error?: { code?: unknown; message?: unknown } }).error;
  const needsMessage = routed(path) || r.status !== 404;
  if (
    e?.code !== r.status ||
    typeof e.message !== "string" ||
    (needsMessage && e.message.trim() === "")
  ) {
    throw new Error(`${what}: ${r.status} with a bad error entity: ${r.body.slice(0, 300)}`);
  }
}

const KNOWN_SECTIONS = ["Unit", "Service", "X-Fleet", "Install", "Socket", "Timer"];
const KNOWN_KEYS = [
  "ExecStart",
  "Description",
  "MachineID",
  "MachineMetadata",
  "MachineOf",
  "Conflicts",
  "Global",
  "Replaces",
  "WantedBy",
];
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", " ", "\n", "\\", "%n", "%i", "a=b", "a=b c=d", "true", "\u0000", "\ud800"),
);
const option = fc.record(
  {
    section: fc.oneof(fc.constantFrom(...KNOWN_SECTIONS), text, fc.jsonValue()),
    name: fc.oneof(fc.constantFrom(...KNOWN_KEYS), text, fc.jsonValue()),
    value: fc.oneof(text, fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const unitName = fc.oneof(
  fc.constantFrom("web.service", "db@1.service", "tpl@.service", "new.service", "x@y@z.service"),
  fc.stringMatching(/^[a-z0-9@._:\\-]{1,30}\.(service|socket|timer|mount|bogus)$/),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }),
  fc.constantFrom(`${"a".repeat(300)}.service`, "..", ".", "%", "%2F", "@.service"),
);
/** Bodies that pass validation, so that accepted PUTs change the state the others meet. */
const validPut = fc.record({
  desiredState: fc.constantFrom("inactive", "loaded", "launched"),
  options: fc
    .array(
      fc.record({
        section: fc.constantFrom("Service", "Unit", "X-Fleet"),
        name: fc.constantFrom("ExecStart", "Description", "MachineMetadata", "Conflicts"),
        value: fc.stringMatching(/^[a-z0-9=/ .*]{1,20}$/),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((o) => [{ section: "Service", name: "ExecStart", value: "/bin/true" }, ...o]),
});
const putBody = fc.oneof(
  validPut,
  fc.jsonValue(),
  fc.record(
    {
      name: fc.oneof(unitName, fc.jsonValue()),
      desiredState: fc.oneof(
        fc.constantFrom("inactive", "loaded", "launched", "bogus", "", "LAUNCHED"),
        fc.jsonValue(),
      ),
      options: fc.oneof(fc.array(option, { maxLength: 8 }), fc.jsonValue()),
      currentState: fc.oneof(fc.constantFrom("launched", "x"), fc.jsonValue()),
      machineID: fc.oneof(fc.constantFrom(M, ""), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);
const patchBody = fc.oneof(
  fc.jsonValue(),
  fc.array(
    fc.record(
      {
        op: fc.oneof(
          fc.constantFrom("add", "remove", "replace", "move", "test", ""),
          fc.jsonValue(),
        ),
        path: fc.oneof(
          fc.constantFrom(`/${M}/metadata/disk`, `/${M}/metadata/`, `/${M}/metadata/a/b`, "/", ""),
          text.map((k) => `/${M}/metadata/${k}`),
          text.map((id) => `/${id}/metadata/disk`),
          fc.jsonValue(),
        ),
        value: fc.oneof(
          text.map((v) => ({ value: v })),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 5 },
  ),
);
/** A body as sent: mostly JSON, sometimes not JSON, sometimes not announced as JSON. */
const wire = (json: fc.Arbitrary<unknown>) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: json.map((v) => ({ body: JSON.stringify(v) ?? "null", type: "application/json" })),
    },
    {
      weight: 1,
      arbitrary: fc.string({ maxLength: 200 }).map((b) => ({ body: b, type: "application/json" })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          json,
          fc.constantFrom(
            "text/plain",
            "application/json; charset=utf-8",
            "",
            "application/x-www-form-urlencoded",
          ),
        )
        .map(([v, t]) => ({ body: JSON.stringify(v) ?? "", type: t })),
    },
  );
const query = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "nextPageToken",
          "unitName",
          "machineID",
          "limit",
          "fields",
          "desiredState",
        ),
        fc.string({ maxLength: 10 }),
      ),
      fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.base64String({ maxLength: 40 }),
        fc.constantFrom(M, "web.service", "-1", "0", "99999999999"),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => new URLSearchParams(pairs).toString());
const getPath = fc.oneof(
  fc.constantFrom(
    "/fleet/v1/units",
    "/fleet/v1/state",
    "/fleet/v1/machines",
    "/fleet/v1/discovery",
    "/v1-alpha/units",
  ),
  unitName.map((n) => `/fleet/v1/units/${encodeURIComponent(n)}`),
);

describe("(etcd) API fuzz", () => {
  it("(etcd) 4,500 random PUT /fleet/v1/units/<name>: no 5xx, 4xx with a message, a rejected PUT changes nothing", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(unitName, wire(putBody), async (name, { body, type }) => {
        const before = await revision();
        const path = `/fleet/v1/units/${encodeURIComponent(name)}`;
        const r = await call("PUT", path, body, type === "" ? undefined : type);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        checkReply(`PUT ${path} ${body.slice(0, 200)}`, r, path);
        if (r.status >= 400) expect(await revision(), `PUT ${path} ${body}`).toBe(before);
      }),
      { numRuns: 4500, seed: SEED },
    );
    console.log("PUT statuses:", Object.fromEntries(seen));
    // The generators reach past validation too (some PUTs create or change units).
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
  }, 120_000);

  it("(etcd) 2,500 random PATCH /fleet/v1/machines: no 5xx, 4xx with a message, a rejected PATCH changes nothing", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(wire(patchBody), async ({ body, type }) => {
        const before = await revision();
        const r = await call("PATCH", "/fleet/v1/machines", body, type === "" ? undefined : type);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        checkReply(`PATCH /fleet/v1/machines ${body.slice(0, 200)}`, r, "/fleet/v1/machines");
        if (r.status >= 400) expect(await revision(), `PATCH ${body}`).toBe(before);
      }),
      { numRuns: 2500, seed: SEED + 1 },
    );
    console.log("PATCH statuses:", Object.fromEntries(seen));
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
  }, 120_000);

  it("(etcd) 3,000 random GETs with random query strings, 50 at a time: no 5xx, nothing changes", async () => {
    const batches = fc.sample(
      fc.array(fc.tuple(getPath, query), { minLength: 50, maxLength: 50 }),
      {
        numRuns: 60,
        seed: SEED + 2,
      },
    );
    const seen = new Map<number, number>();
    for (const batch of batches) {
      const before = await revision();
      const replies = await Promise.all(
        batch.map(async ([path, q]) => {
          const url = q === "" ? path : `${path}?${q}`;
          return { url, r: await call("GET", url) };
        }),
      );
      for (const { url, r } of replies) {
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        checkReply(`GET ${url}`, r, url);
      }
      expect(await revision()).toBe(before);
    }
    console.log("GET statuses:", Object.fromEntries(seen));
    expect(seen.get(200)).toBeGreaterThan(0);
  }, 120_000);

  it("(etcd) the server still answers, and logged no internal error", async () => {
    const r = await call("GET", "/fleet/v1/machines");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).machines[0].id).toBe(M);
    expect(apiLog.lines.filter((l) => l.includes("API request failed"))).toEqual([]);
  });
});
