/**
 * @module agent/api/routes
 * fleet API v1 (`/fleet/v1/...`, and fleet's older `/v1-alpha/...` mount): units, state,
 * machines, discovery — fleet's paths, status codes, JSON and error entity, so that fleet's own
 * fleetctl works against fleet-ts. Where fleet answered with a crash or a 500 for bad input,
 * this answers 4xx with a message (docs/api.md).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { unitHash } from "../../units/unit-file.js";
import { unitNameInfo, unitNameProblem } from "../../units/unit-name.js";
import { unitOptionsProblem } from "../../units/validate.js";
import type { Logger } from "../logging/logger.js";
import type { UnitRecord } from "../registry/codecs.js";
import { ConflictError, NotFoundError } from "../registry/errors.js";
import type { Registry } from "../registry/registry.js";
import discovery from "./discovery-v1.json" with { type: "json" };
import { ApiError, decodePathSegment, errorEntity } from "./errors.js";
import { HostCommandError, systemctlStatus } from "./host-commands.js";
import { machineIdParam } from "./journal.js";
import { currentRevision, ListingCache } from "./listing-cache.js";
import { parseMachinePatch } from "./machine-patch.js";
import { pageFromQuery, pageOf } from "./pagination.js";
import { type PeerAuth, PROXIED_HEADER, proxyGet } from "./proxy.js";
import { readDrain, readWireMachines, readWireUnits } from "./reads.js";
import { resolveUnitTarget } from "./unit-target.js";
import { listing, type WireUnit, type WireUnitState, wireUnitState } from "./wire.js";

export interface ApiOptions {
  readonly registry: Registry;
  /** Page size (fleet's token_limit). */
  readonly tokenLimit: number;
  readonly version: string;
  readonly log: Logger;
  /** Largest request body accepted (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** This fleetd's machine: journal and status of its units are served here, others proxied. */
  readonly machineId?: string;
  /** How to authenticate when proxying to another machine's fleetd (token, TLS client cert). */
  readonly peerAuth?: PeerAuth;
  /** Prepended to journalctl/systemctl (a fleetd outside its host enters it; default none). */
  readonly hostCommandPrefix?: readonly string[];
  /** Per event-stream client bound on unsent messages (default 8 MiB). */
  readonly clientLimitBytes?: number;
}

const DISCOVERY = `${JSON.stringify(discovery, null, 2)}\n`;

const OptionSchema = z.object({ section: z.string(), name: z.string(), value: z.string() });
const PutUnitSchema = z.object({
  name: z.string().optional(),
  desiredState: z.string().optional(),
  options: z.array(OptionSchema).optional(),
  currentState: z.string().optional(),
  machineID: z.string().optional(),
});

const DESIRED = new Set(["inactive", "loaded", "launched"]);

/** The full listings paging reads from, each valid while etcd's revision does not move. */
interface Listings {
  readonly units: ListingCache<WireUnit>;
  readonly states: ListingCache<WireUnitState>;
}

function listings(opts: ApiOptions): Listings {
  const { registry, log } = opts;
  const now = () => currentRevision(registry.client, registry.keys.prefix);
  return {
    units: new ListingCache(async () => {
      const r = await readWireUnits(registry, log);
      return { items: r.units, revision: r.revision };
    }, now),
    states: new ListingCache(async () => {
      const { states, listing } = await registry.states.list();
      const items = states
        .sort((a, b) =>
          a.unit === b.unit ? (a.machineId < b.machineId ? -1 : 1) : a.unit < b.unit ? -1 : 1,
        )
        .map((s) => wireUnitState(s.unit, s.machineId, s));
      return { items, revision: listing.revision };
    }, now),
  };
}

export function apiHandler(opts: ApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log.with({ component: "api" });
  const cached = listings(opts);
  return (req, res) => {
    res.setHeader("Server", `fleetd/${opts.version}`);
    route(opts, cached, req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err.status, err.message);
      if (err instanceof NotFoundError) return sendError(res, 404, err.message);
      if (err instanceof ConflictError) return sendError(res, 409, err.message);
      log.error("API request failed", { method: req.method, url: req.url, error: String(err) });
      sendError(res, 500, "internal error; see fleetd's log");
    });
  };
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.end();
  const body = errorEntity(status, message);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, body: string): void {
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function sendEmpty(res: ServerResponse, status: 201 | 204): void {
  res.writeHead(status);
  res.end();
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const types = req.headersDistinct["content-type"] ?? [];
  if (types.length !== 1)
    throw new ApiError(
      415,
      `expected 1 Content-Type, got ${types.length}: send Content-Type: application/json`,
    );
  if ((types[0] as string).split(";")[0]?.trim() !== "application/json") {
    throw new ApiError(415, `expected Content-Type application/json, got ${types[0]}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new ApiError(413, `request body larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new ApiError(400, `unable to decode body: ${(err as Error).message}`);
  }
}

async function route(
  opts: ApiOptions,
  cached: Listings,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fleet");
  const path = url.pathname;
  const method = req.method ?? "GET";
  if (path === "/" || path === "/fleet/v1" || path === "/v1-alpha") throw new ApiError(405, "");
  if (path === "/fleet/v1/events")
    throw new ApiError(400, "/fleet/v1/events is a WebSocket: connect with Upgrade: websocket");
  const sub = /^\/fleet\/v1\/(units|machines)\/([^/]+)\/(journal|status|drain)$/.exec(path);
  if (sub !== null)
    return subResource(
      opts,
      req,
      res,
      url,
      sub[1] as string,
      decodePathSegment(sub[2] as string),
      sub[3] as string,
    );
  const m = /^\/(?:fleet\/v1|v1-alpha)\/(units|state|machines|discovery)(?:\/([^/]+))?$/.exec(path);
  if (m === null) throw new ApiError(404, "");
  const [, resource, rawItem] = m;
  const item = rawItem === undefined ? undefined : decodePathSegment(rawItem);
  const page = (limit: number) => pageFromQuery(url.searchParams.getAll("nextPageToken"), limit);
  switch (resource) {
    case "discovery":
      if (item !== undefined) throw new ApiError(404, "");
      if (method !== "GET")
        throw new ApiError(400, "only HTTP GET supported against this resource");
      return sendJson(res, DISCOVERY);
    case "units":
      if (item === undefined) {
        if (method !== "GET") throw new ApiError(405, "only GET supported against this resource");
        const p = pageOf(await cached.units.get(), page(opts.tokenLimit));
        return sendJson(res, listing("units", p.items, p.next));
      }
      if (method === "GET") {
        const u = (await readWireUnits(opts.registry, opts.log, item)).units[0];
        if (u === undefined) throw new ApiError(404, "unit does not exist");
        return sendJson(res, JSON.stringify(u));
      }
      if (method === "DELETE") {
        try {
          await opts.registry.units.destroy(item);
        } catch (err) {
          if (err instanceof NotFoundError) throw new ApiError(404, "unit does not exist");
          throw err;
        }
        return sendEmpty(res, 204);
      }
      if (method === "PUT")
        return putUnit(opts, item, await readJson(req, opts.maxBodyBytes ?? 1 << 20), res);
      throw new ApiError(405, "only GET, PUT and DELETE supported against this resource");
    case "state": {
      if (method !== "GET") throw new ApiError(405, "only GET supported against this resource");
      const machine = url.searchParams.get("machineID");
      const unitName = url.searchParams.get("unitName");
      const keep = (s: WireUnitState) =>
        (machine === null || s.machineID === machine) && (unitName === null || s.name === unitName);
      if (item !== undefined) {
        // One unit's states: a narrow read, no need for the whole listing.
        const { states } = await opts.registry.states.list(item);
        const first = states
          .map((s) => wireUnitState(s.unit, s.machineId, s))
          .filter(keep)
          .sort((a, b) => (a.machineID < b.machineID ? -1 : 1))[0];
        // fleet crashed here (nil pointer) for a unit with no state; say so instead.
        if (first === undefined) throw new ApiError(404, "unit state does not exist");
        return sendJson(res, JSON.stringify(first));
      }
      const all = await cached.states.get();
      const wire = machine === null && unitName === null ? all : all.filter(keep);
      const p = pageOf(wire, page(opts.tokenLimit));
      return sendJson(res, listing("states", p.items, p.next));
    }
    case "machines": {
      if (item !== undefined) throw new ApiError(404, "");
      if (method === "GET") {
        const wire = await readWireMachines(opts.registry, opts.log);
        const p = pageOf(wire, page(opts.tokenLimit));
        return sendJson(res, listing("machines", p.items, p.next));
      }
      if (method === "PATCH") {
        const body = await readJson(req, opts.maxBodyBytes ?? 1 << 20);
        const ops = parseMachinePatch(body);
        const byMachine = new Map<string, (typeof ops)[number]["patch"][]>();
        for (const op of ops)
          byMachine.set(op.machineId, [...(byMachine.get(op.machineId) ?? []), op.patch]);
        for (const [id, patches] of byMachine)
          await opts.registry.machines.patchMetadata(id, patches);
        return sendEmpty(res, 204);
      }
      throw new ApiError(405, "only GET and PATCH supported against this resource");
    }
  }
  throw new ApiError(404, "");
}

/** PUT /units/<name>: create a unit, change its desired state, or replace its options. */
async function putUnit(
  opts: ApiOptions,
  name: string,
  body: unknown,
  res: ServerResponse,
): Promise<void> {
  const parsed = PutUnitSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError(
      400,
      `invalid unit: ${issue?.path.join(".") || "body"}: ${issue?.message ?? "unexpected shape"}`,
    );
  }
  const u = parsed.data;
  if (u.name !== undefined && u.name !== name) {
    throw new ApiError(
      400,
      `name in URL ${JSON.stringify(name)} differs from unit name in request body ${JSON.stringify(u.name)}`,
    );
  }
  const nameProblem = unitNameProblem(name);
  if (nameProblem !== undefined) throw new ApiError(400, nameProblem);
  if (u.desiredState !== undefined && !DESIRED.has(u.desiredState)) {
    throw new ApiError(
      400,
      `invalid desiredState ${JSON.stringify(u.desiredState)}: use inactive, loaded or launched`,
    );
  }
  const desired = u.desiredState as UnitRecord["desiredState"] | undefined;
  const options = u.options ?? [];
  const problem = options.length === 0 ? undefined : unitOptionsProblem(options);
  if (problem !== undefined) throw new ApiError(400, problem);
  const record: UnitRecord = {
    name,
    options,
    hash: unitHash(options),
    desiredState: desired ?? "inactive",
  };
  if (options.length > 0) {
    // A PUT with options nearly always creates (fleetctl reads the unit first and sends them
    // only when it is missing): try that in one etcd round trip, and read only if it exists.
    try {
      await opts.registry.units.create(record);
      return sendEmpty(res, 201);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  const existing = await opts.registry.units.get(name);
  if (existing !== undefined && (options.length === 0 || record.hash === existing.value.hash)) {
    if (desired === undefined)
      throw new ApiError(409, "must provide DesiredState to update existing unit");
    if (unitNameInfo(name)?.isTemplate && desired !== "inactive") {
      throw new ApiError(
        400,
        `cannot activate template ${JSON.stringify(name)}: start an instance of it instead, e.g. ${name.replace("@.", "@1.")}`,
      );
    }
    await opts.registry.units.replace(existing, { ...existing.value, desiredState: desired });
    return sendEmpty(res, 204);
  }
  if (options.length === 0) throw new ApiError(409, "unit does not exist and options field empty");
  if (existing === undefined) {
    await opts.registry.units.create(record); // destroyed since the create above found it
  } else {
    // fleet replaced a unit whose options changed (201): the engine moves it to its new text.
    await opts.registry.units.replace(existing, record);
  }
  return sendEmpty(res, 201);
}

/** /units/<name>/{journal,status} and /machines/<id>/drain. */
async function subResource(
  opts: ApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  resource: string,
  item: string,
  what: string,
): Promise<void> {
  const method = req.method ?? "GET";
  if (resource === "units" && what === "journal")
    throw new ApiError(400, `${url.pathname} is a WebSocket: connect with Upgrade: websocket`);
  if (resource === "units" && what === "status") {
    if (method !== "GET") throw new ApiError(405, "only GET supported against this resource");
    for (const key of url.searchParams.keys())
      if (key !== "machineID")
        throw new ApiError(400, `unknown query parameter ${key}: use machineID`);
    return unitStatus(opts, req, res, item, machineIdParam(url.searchParams));
  }
  if (resource === "machines" && what === "drain") return drain(opts, method, res, item);
  throw new ApiError(404, "");
}

async function unitStatus(
  opts: ApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  unit: string,
  wanted: string | null,
): Promise<void> {
  const target = await resolveUnitTarget(opts.registry, opts.machineId, unit, wanted);
  if (target.local) {
    try {
      const { exitCode, output } = await systemctlStatus(opts.hostCommandPrefix ?? [], unit);
      return sendJson(res, JSON.stringify({ machineID: target.machineId, exitCode, output }));
    } catch (err) {
      if (err instanceof HostCommandError) throw new ApiError(500, err.message);
      throw err;
    }
  }
  if (req.headers[PROXIED_HEADER] !== undefined)
    throw new ApiError(
      502,
      `this fleetd (machine ${opts.machineId ?? "unknown"}) was asked, by another fleetd, for machine ${target.machineId}: their views of the cluster differ; retry`,
    );
  const path = `/fleet/v1/units/${encodeURIComponent(unit)}/status?machineID=${target.machineId}`;
  const up = await proxyGet(target.apiUrl as string, path, opts.peerAuth ?? {}, target.machineId);
  res.writeHead(up.status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(up.body),
  });
  res.end(up.body);
}

/** POST drains, DELETE undrains, GET tells; 404 for a machine the cluster does not know. */
async function drain(
  opts: ApiOptions,
  method: string,
  res: ServerResponse,
  machineId: string,
): Promise<void> {
  if (!/^[0-9a-f]{32}$/.test(machineId))
    throw new ApiError(
      404,
      `machine ${machineId} does not exist (IDs are 32 lowercase hex characters)`,
    );
  const view = await readDrain(opts.registry, opts.log, machineId);
  const unknown = () =>
    new ApiError(
      404,
      `machine ${machineId} does not exist: it is not registered (see GET /fleet/v1/machines)`,
    );
  const body = (draining: boolean, units: string[]) =>
    JSON.stringify({ machineID: machineId, draining, units });
  switch (method) {
    case "GET":
      if (!view.live && !view.draining) throw unknown();
      return sendJson(res, body(view.draining, view.units));
    case "POST": {
      if (!view.live) throw unknown();
      await opts.registry.drains.drain(machineId);
      const text = body(true, view.units);
      res.writeHead(202, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(text),
      });
      return void res.end(text);
    }
    case "DELETE":
      if (!view.live && !view.draining) throw unknown();
      await opts.registry.drains.undrain(machineId);
      return sendEmpty(res, 204);
  }
  throw new ApiError(405, "only GET, POST and DELETE supported against this resource");
}
