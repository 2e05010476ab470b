import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { memoryLogger } from "../logging/logger.js";
import { MachinePresence } from "../registry/machines.js";
import { Registry } from "../registry/registry.js";
import { apiHandler } from "./routes.js";
import { type Listener, listen } from "./server.js";

const golden = (name: string) =>
  readFileSync(
    new URL(`../../test/fixtures/fleetctl-golden/${name}.body`, import.meta.url),
    "utf8",
  );
const M = "1c82c571ade00fda5f2a91a241cd070c";

let etcd: EtcdCluster;
let registry: Registry;
let api: Listener;
let socket: string;
let presence: MachinePresence;

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/api/", log: memoryLogger() });
  socket = join(mkdtempSync(join(tmpdir(), "fleet-api-")), "fleet.sock");
  api = await listen(
    `unix://${socket}`,
    apiHandler({
      registry,
      tokenLimit: 100,
      version: "test",
      log: memoryLogger(),
      maxBodyBytes: 64 * 1024,
    }),
  );
  presence = await MachinePresence.register({
    client: registry.client,
    kv: registry.kv,
    keys: registry.keys,
    log: registry.log,
    record: {
      id: M,
      publicIP: "127.0.0.13",
      metadata: { role: "web", region: "eu-west-1", host: "h3" },
      version: "t",
      startedAt: 0,
    },
    ttlSeconds: 10,
  });
});
afterAll(async () => {
  await presence?.revoke().catch(() => {});
  await api?.close();
  if (socket !== undefined) rmSync(join(socket, ".."), { recursive: true, force: true });
  registry?.close();
  await etcd?.stop();
});

function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request({ socketPath: socket, method, path, headers }, (res) => {
        let data = "";
        res.on("data", (c) => {
          data += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }),
        );
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    },
  );
}
const json = { "Content-Type": "application/json" };
const create =
  '{"desiredState":"inactive","options":[{"section":"Unit","name":"Description","value":"made over the API"},{"section":"Service","name":"ExecStart","value":"/bin/sleep 100000"}]}';

describe("(etcd) fleet API v1 over the unix socket", () => {
  it("(etcd) serves on a 0660 socket with fleet's Server header and empty listings", async () => {
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const r = await call("GET", "/fleet/v1/units");
    expect(r).toMatchObject({ status: 200, body: golden("api.units.empty") });
    expect(r.headers.server).toBe("fleetd/test");
    expect((await call("GET", "/fleet/v1/state")).body).toBe(golden("api.state.empty"));
  });

  it("(etcd) creates, reads, updates and deletes a unit as fleet did", async () => {
    expect(await call("PUT", "/fleet/v1/units/apiunit.service", create, json)).toMatchObject({
      status: 201,
      body: "",
    });
    expect(await call("GET", "/fleet/v1/units/apiunit.service")).toMatchObject({
      status: 200,
      body: golden("api.get-created"),
    });
    expect((await call("PUT", "/fleet/v1/units/apiunit.service", create, json)).status).toBe(204);
    expect(
      (await call("PUT", "/fleet/v1/units/apiunit.service", '{"desiredState":"launched"}', json))
        .status,
    ).toBe(204);
    expect((await registry.units.get("apiunit.service"))?.value.desiredState).toBe("launched");
    const modify =
      '{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/sleep 5"}]}';
    expect((await call("PUT", "/fleet/v1/units/apiunit.service", modify, json)).status).toBe(201);
    expect((await registry.units.get("apiunit.service"))?.value.options).toHaveLength(1);
    expect((await call("DELETE", "/fleet/v1/units/apiunit.service")).status).toBe(204);
    expect(await call("DELETE", "/fleet/v1/units/apiunit.service")).toMatchObject({
      status: 404,
      body: golden("api.err.delete-again"),
    });
  });

  it.each([
    ["PUT", "/fleet/v1/units/x.service", "{not json", json, 400, /^unable to decode body/],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":"launched"}',
      {},
      415,
      /expected 1 Content-Type, got 0/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":"launched"}',
      { "Content-Type": "text/plain" },
      415,
      /application\/json/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":"launched"}',
      json,
      409,
      /^unit does not exist and options field empty$/,
    ],
    ["PUT", "/fleet/v1/units/x.service", "{}", json, 409, /options field empty/],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"name":"y.service","desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}',
      json,
      400,
      /differs from unit name/,
    ],
    [
      "PUT",
      "/fleet/v1/units/bad%20name.service",
      '{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}',
      json,
      400,
      /invalid character ' '/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":"bogus","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}',
      json,
      400,
      /invalid desiredState "bogus"/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":7}',
      json,
      400,
      /invalid unit: desiredState/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      '{"desiredState":"launched","options":[{"section":"X-Fleet","name":"MachineID","value":"a"},{"section":"X-Fleet","name":"Global","value":"true"}]}',
      json,
      400,
      /MachineID cannot be used with Global/,
    ],
    [
      "PUT",
      "/fleet/v1/units/x.service",
      `{"desiredState":"launched","options":[{"section":"Service","name":"A","value":"${"x".repeat(70_000)}"}]}`,
      json,
      413,
      /larger than/,
    ],
    ["POST", "/fleet/v1/units", "{}", json, 405, /only GET supported/],
    ["GET", "/fleet/v1/units/missing.service", undefined, {}, 404, /^unit does not exist$/],
    ["GET", "/fleet/v1/state/missing.service", undefined, {}, 404, /unit state does not exist/],
    ["POST", "/fleet/v1/state", "{}", json, 405, /only GET supported/],
    ["POST", "/fleet/v1/discovery", "{}", json, 400, /only HTTP GET supported/],
    ["DELETE", "/fleet/v1/machines", undefined, {}, 405, /only GET and PATCH/],
    ["GET", "/fleet/v1/units?nextPageToken=garbage", undefined, {}, 400, /invalid nextPageToken/],
    [
      "GET",
      "/fleet/v1/units?nextPageToken=AQACAA==",
      undefined,
      {},
      400,
      /^token limit must be 100$/,
    ],
    [
      "GET",
      "/fleet/v1/units?nextPageToken=ZAACAA==&nextPageToken=ZAACAA==",
      undefined,
      {},
      400,
      /too many values/,
    ],
    ["GET", "/", undefined, {}, 405, /^$/],
    ["GET", "/fleet/v1", undefined, {}, 405, /^$/],
    ["GET", "/fleet/v1/", undefined, {}, 404, /^$/],
    ["GET", "/fleet/v1/bogus", undefined, {}, 404, /^$/],
    [
      "PATCH",
      "/fleet/v1/machines",
      `[{"op":"frob","path":"/${M}/metadata/extra"}]`,
      json,
      400,
      /invalid op/,
    ],
    [
      "PATCH",
      "/fleet/v1/machines",
      '[{"op":"add","path":"/x/meta/extra","value":{"value":"1"}}]',
      json,
      400,
      /machine metadata path invalid/,
    ],
    [
      "PATCH",
      "/fleet/v1/machines",
      `[{"op":"add","path":"/${M}/metadata/extra"}]`,
      json,
      400,
      /require a value/,
    ],
    ["PATCH", "/fleet/v1/machines", "{not json", json, 400, /unable to decode body/],
  ])(
    "(etcd) %s %s → %i-class error, nothing changed",
    async (method, path, body, headers, status, message) => {
      const before = (await registry.client.get("x").exec()).header.revision;
      const r = await call(method, path, body, headers as Record<string, string>);
      expect(r.status).toBe(status);
      const entity = JSON.parse(r.body) as { error: { code: number; message: string } };
      expect(entity.error.code).toBe(status);
      expect(entity.error.message).toMatch(message);
      expect((await registry.client.get("x").exec()).header.revision).toBe(before);
    },
  );

  it("(etcd) refuses to launch an existing template, and serves discovery", async () => {
    const t =
      '{"desiredState":"inactive","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}';
    expect((await call("PUT", "/fleet/v1/units/tmpl@.service", t, json)).status).toBe(201);
    const r = await call(
      "PUT",
      "/fleet/v1/units/tmpl@.service",
      '{"desiredState":"launched"}',
      json,
    );
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/cannot activate template/);
    const d = await call("GET", "/fleet/v1/discovery");
    expect(d.status).toBe(200);
    expect(JSON.parse(d.body)).toEqual(JSON.parse(golden("api.discovery")));
    expect((await call("DELETE", "/fleet/v1/units/tmpl@.service")).status).toBe(204);
  });

  it("(etcd) lists machines and changes their metadata with fleet's JSON Patch", async () => {
    const list = await call("GET", "/fleet/v1/machines");
    expect(list.body).toBe(
      `{"machines":[{"id":"${M}","metadata":{"host":"h3","region":"eu-west-1","role":"web"},"primaryIP":"127.0.0.13"}]}`,
    );
    const add = `[{"op":"add","path":"/${M}/metadata/extra","value":{"value":"yes"}}]`;
    expect((await call("PATCH", "/fleet/v1/machines", add, json)).status).toBe(204);
    expect((await call("GET", "/fleet/v1/machines")).body).toContain('"extra":"yes"');
    expect(
      (
        await call(
          "PATCH",
          "/fleet/v1/machines",
          `[{"op":"remove","path":"/${M}/metadata/extra"}]`,
          json,
        )
      ).status,
    ).toBe(204);
    expect((await call("GET", "/fleet/v1/machines")).body).toBe(list.body);
  });

  it("(etcd) a stray % in a unit name is a 400 naming it, not a 500", async () => {
    for (const path of ["/fleet/v1/units/a%zz.service", "/fleet/v1/units/a%.service/status"]) {
      const r = await call("GET", path);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error.message).toMatch(/invalid percent-encoding/);
    }
  });

  it("(etcd) pages long listings with fleet's tokens", async () => {
    for (let i = 0; i < 150; i++) {
      await registry.units.create({
        name: `p${String(i).padStart(3, "0")}.service`,
        options: [],
        hash: "d".repeat(40),
        desiredState: "inactive",
      });
    }
    const first = JSON.parse((await call("GET", "/fleet/v1/units")).body) as {
      units: unknown[];
      nextPageToken: string;
    };
    expect(first.units).toHaveLength(100);
    expect(first.nextPageToken).toBe("ZAACAA==");
    const second = JSON.parse(
      (await call("GET", `/fleet/v1/units?nextPageToken=${first.nextPageToken}`)).body,
    ) as { units: unknown[]; nextPageToken?: string };
    expect(second.units).toHaveLength(50);
    expect(second.nextPageToken).toBeUndefined();
    expect((await call("GET", "/fleet/v1/units?nextPageToken=ZAADAA==")).body).toBe("{}");
  });
});
