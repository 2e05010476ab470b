/**
 * @module agent/api/routes
 * fleet API v1 (`/fleet/v1/...`, and fleet's older `/v1-alpha/...` mount): units, state,
 * machines, discovery — fleet's paths, status codes, JSON and error entity, so that fleet's own
 * fleetctl works against fleet-ts. Where fleet answered with a crash or a 500 for bad input,
 * this answers 4xx with a message (docs/api.md).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { unitRequirements } from "../../units/requirements.js";
import { unitHash } from "../../units/unit-file.js";
import { unitNameInfo, unitNameProblem } from "../../units/unit-name.js";
import { unitOptionsProblem } from "../../units/validate.js";
import type { Logger } from "../logging/logger.js";
import { decode, ScheduleEntrySchema, type UnitRecord } from "../registry/codecs.js";
import { ConflictError, NotFoundError } from "../registry/errors.js";
import type { Registry } from "../registry/registry.js";
import discovery from "./discovery-v1.json" with { type: "json" };
import { ApiError, errorEntity } from "./errors.js";
import { parseMachinePatch } from "./machine-patch.js";
import { pageFromQuery, pageOf } from "./pagination.js";
import { listing, type WireUnit, wireUnit, wireUnitState } from "./wire.js";

export interface ApiOptions {
  readonly registry: Registry;
  /** Page size (fleet's token_limit). */
  readonly tokenLimit: number;
  readonly version: string;
  readonly log: Logger;
  /** Largest request body accepted (default 1 MiB). */
  readonly maxBodyBytes?: number;
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

export function apiHandler(opts: ApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log.with({ component: "api" });
  return (req, res) => {
    res.setHeader("Server", `fleetd/${opts.version}`);
    route(opts, req, res).catch((err: unknown) => {
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

async function route(opts: ApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fleet");
  const path = url.pathname;
  const method = req.method ?? "GET";
  if (path === "/" || path === "/fleet/v1" || path === "/v1-alpha") throw new ApiError(405, "");
  const m = /^\/(?:fleet\/v1|v1-alpha)\/(units|state|machines|discovery)(?:\/([^/]+))?$/.exec(path);
  if (m === null) throw new ApiError(404, "");
  const [, resource, rawItem] = m;
  const item = rawItem === undefined ? undefined : decodeURIComponent(rawItem);
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
        const units = await wireUnits(opts.registry);
        const p = pageOf(units, page(opts.tokenLimit));
        return sendJson(res, listing("units", p.items, p.next));
      }
      if (method === "GET") {
        const u = (await wireUnits(opts.registry, item))[0];
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
      const { states } = await opts.registry.states.list(item);
      const machine = url.searchParams.get("machineID");
      const unitName = url.searchParams.get("unitName");
      const wire = states
        .filter(
          (s) =>
            (machine === null || s.machineId === machine) &&
            (unitName === null || s.unit === unitName),
        )
        .sort((a, b) =>
          a.unit === b.unit ? (a.machineId < b.machineId ? -1 : 1) : a.unit < b.unit ? -1 : 1,
        )
        .map((s) => wireUnitState(s.unit, s.machineId, s));
      if (item !== undefined) {
        const first = wire[0];
        // fleet crashed here (nil pointer) for a unit with no state; say so instead.
        if (first === undefined) throw new ApiError(404, "unit state does not exist");
        return sendJson(res, JSON.stringify(first));
      }
      const p = pageOf(wire, page(opts.tokenLimit));
      return sendJson(res, listing("states", p.items, p.next));
    }
    case "machines": {
      if (item !== undefined) throw new ApiError(404, "");
      if (method === "GET") {
        const { machines } = await opts.registry.machines.list();
        const wire = machines
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .map((mm) => ({
            id: mm.id,
            metadata: sortedObject(mm.metadata),
            primaryIP: mm.publicIP,
          }));
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

function sortedObject(o: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k] as string]),
  );
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
  const existing = await opts.registry.units.get(name);
  const options = u.options ?? [];
  if (
    existing !== undefined &&
    (options.length === 0 || unitHash(options) === existing.value.hash)
  ) {
    if (desired === undefined)
      throw new ApiError(409, "must provide DesiredState to update existing unit");
    if (unitNameInfo(name)?.isTemplate && desired !== "inactive") {
      throw new ApiError(
        400,
        `cannot activate template ${JSON.stringify(name)}: start an instance of it instead, e.g. ${name.replace("@.", "@1.")}`,
      );
    }
    await opts.registry.units.setDesiredState(name, desired, undefined, {
      ifModRevision: existing.modRevision,
    });
    return sendEmpty(res, 204);
  }
  if (options.length === 0) throw new ApiError(409, "unit does not exist and options field empty");
  const problem = unitOptionsProblem(options);
  if (problem !== undefined) throw new ApiError(400, problem);
  const record: UnitRecord = {
    name,
    options,
    hash: unitHash(options),
    desiredState: desired ?? "inactive",
  };
  if (existing === undefined) {
    await opts.registry.units.create(record);
  } else {
    // fleet replaced a unit whose options changed (201): the engine moves it to its new text.
    await opts.registry.units.update(name, () => record, { ifModRevision: existing.modRevision });
  }
  return sendEmpty(res, 201);
}

/** Units with their machine and current state (all, or the one named). */
async function wireUnits(registry: Registry, only?: string): Promise<WireUnit[]> {
  const units =
    only === undefined
      ? (await registry.units.list()).items.map((i) => i.value)
      : [await registry.units.get(only)].flatMap((u) => (u === undefined ? [] : [u.value]));
  if (units.length === 0) return [];
  const sched = await registry.kv.range(registry.keys.schedulePrefix());
  const placement = new Map<string, { machineId: string; entryState: "loaded" | "launched" }>();
  for (const kv of sched.kvs) {
    const parts = registry.keys.parse(kv.key, "schedule");
    if (parts?.length !== 2) continue;
    const d = decode(ScheduleEntrySchema, kv.key, kv.value);
    if (d.ok)
      placement.set(parts[1] as string, {
        machineId: parts[0] as string,
        entryState: d.value.desiredState,
      });
  }
  const { states } = await registry.states.list(only);
  const reported = new Map(states.map((s) => [`${s.unit}\u0000${s.machineId}`, s.hash]));
  return units.map((u) => {
    const p = placement.get(u.name);
    const global = unitRequirements(u.name, u.options).global;
    return wireUnit(
      u,
      p,
      p === undefined ? undefined : reported.get(`${u.name}\u0000${p.machineId}`),
      global,
    );
  });
}
