/**
 * @module cli/api-client
 * fleetctl's client of the fleet API (v1 and fleet-ts's extensions): typed calls, every answer
 * validated by a zod schema, every failure a typed error. Listing calls follow
 * `nextPageToken` to the end, as fleet's client did.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import WebSocket from "ws";
import type { z } from "zod";
import { FLEET_PACE } from "./context.js";
import type { Endpoint } from "./endpoint.js";
import { ApiProtocolError, ApiResponseError, ApiUnreachableError } from "./errors.js";
import {
  type DrainInfo,
  DrainInfoSchema,
  ErrorEntitySchema,
  MachinePageSchema,
  StatePageSchema,
  UnitPageSchema,
  type UnitStatus,
  UnitStatusSchema,
  type WireMachine,
  type WireOptionSchema,
  type WireState,
  WireStateSchema,
  type WireUnit,
  WireUnitSchema,
} from "./wire.js";

export interface ApiClientOptions {
  readonly endpoint: Endpoint;
  /** Per request, as fleet's --request-timeout (seconds there, milliseconds here). */
  readonly timeoutMs: number;
  /**
   * How long a WebSocket may go without a ping, pong or message before fleetctl takes it for
   * dead (a host that vanished without a FIN never closes it); FLEET_PACE's by default. See
   * ApiSocket.
   */
  readonly silenceMs?: number;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

type Option = z.infer<typeof WireOptionSchema>;

const unitPath = (name: string) => `/fleet/v1/units/${encodeURIComponent(name)}`;
const machinePath = (id: string) => `/fleet/v1/machines/${encodeURIComponent(id)}`;

export class ApiClient {
  constructor(private readonly opts: ApiClientOptions) {}

  get endpoint(): Endpoint {
    return this.opts.endpoint;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const ep = this.opts.endpoint;
    return {
      ...(ep.token === undefined ? {} : { Authorization: `Bearer ${ep.token}` }),
      ...extra,
    };
  }

  #requestOptions(method: string, path: string, headers: Record<string, string>): RequestOptions {
    const ep = this.opts.endpoint;
    const base: RequestOptions = { method, path, headers: { Host: ep.host, ...headers } };
    if (ep.socketPath !== undefined) return { ...base, socketPath: ep.socketPath };
    const url = new URL(`${ep.protocol}//${ep.host}`);
    return {
      ...base,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? undefined : Number(url.port),
      ...(ep.tls ?? {}),
    };
  }

  /** One HTTP exchange; transport failures become ApiUnreachableError. */
  request(method: string, path: string, body?: unknown): Promise<Answer> {
    const ep = this.opts.endpoint;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = this.#headers(
      payload === undefined
        ? {}
        : {
            "Content-Type": "application/json",
            "Content-Length": String(Buffer.byteLength(payload)),
          },
    );
    const send = ep.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = send(this.#requestOptions(method, path, headers), (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(new ApiUnreachableError(ep.display, err.message)));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      req.setTimeout(this.opts.timeoutMs, () => {
        req.destroy(
          new Error(`no answer within ${this.opts.timeoutMs / 1000}s (see --request-timeout)`),
        );
      });
      req.on("error", (err) => reject(new ApiUnreachableError(ep.display, err.message)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Throws the API's error entity as ApiResponseError when the status is not 2xx. */
  #check(a: Answer, path: string): Answer {
    if (a.status >= 200 && a.status < 300) return a;
    let message = a.body;
    try {
      const e = ErrorEntitySchema.safeParse(JSON.parse(a.body));
      if (e.success) message = e.data.error.message;
    } catch {
      // Not fleet's error entity (a proxy's HTML page, say): the raw body is the best message.
    }
    if (a.status === 0) throw new ApiProtocolError(`no HTTP status in the answer to ${path}`);
    throw new ApiResponseError(a.status, message);
  }

  #parse<S extends z.ZodType>(schema: S, a: Answer, path: string): z.infer<S> {
    let raw: unknown;
    try {
      raw = JSON.parse(a.body);
    } catch (err) {
      throw new ApiProtocolError(
        `the API answered ${path} with invalid JSON: ${(err as Error).message}`,
      );
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ApiProtocolError(
        `the API's answer to ${path} is not what fleetctl expects: ${issue?.path.join(".") || "body"}: ${issue?.message ?? "unexpected shape"}`,
      );
    }
    return r.data;
  }

  async #get<S extends z.ZodType>(schema: S, path: string): Promise<z.infer<S>> {
    return this.#parse(schema, this.#check(await this.request("GET", path), path), path);
  }

  async #pages<T>(
    path: string,
    page: (p: string) => Promise<{ items: T[]; next: string | undefined }>,
  ): Promise<T[]> {
    const all: T[] = [];
    let token: string | undefined;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const p = await page(
        token === undefined ? path : `${path}${sep}nextPageToken=${encodeURIComponent(token)}`,
      );
      all.push(...p.items);
      token = p.next;
    } while (token !== undefined);
    return all;
  }

  /** Every unit, in the API's (name) order. */
  units(): Promise<WireUnit[]> {
    return this.#pages("/fleet/v1/units", async (p) => {
      const d = await this.#get(UnitPageSchema, p);
      return { items: d.units, next: d.nextPageToken };
    });
  }

  /** The unit, or undefined when the API says it does not exist. */
  async unit(name: string): Promise<WireUnit | undefined> {
    const path = unitPath(name);
    const a = await this.request("GET", path);
    if (a.status === 404) return undefined;
    return this.#parse(WireUnitSchema, this.#check(a, path), path);
  }

  /** Submits a unit (desired state inactive), as fleet's client did. */
  async createUnit(name: string, options: readonly Option[]): Promise<void> {
    const path = unitPath(name);
    this.#check(await this.request("PUT", path, { name, options }), path);
  }

  async setDesiredState(name: string, desiredState: string): Promise<void> {
    const path = unitPath(name);
    this.#check(await this.request("PUT", path, { desiredState }), path);
  }

  /** Destroys the unit; false if it did not exist. */
  async destroyUnit(name: string): Promise<boolean> {
    const path = unitPath(name);
    const a = await this.request("DELETE", path);
    if (a.status === 404) return false;
    this.#check(a, path);
    return true;
  }

  /** Every unit state (or one unit's), sorted by unit then machine (the API's order). */
  states(unitName?: string): Promise<WireState[]> {
    const path =
      unitName === undefined
        ? "/fleet/v1/state"
        : `/fleet/v1/state?unitName=${encodeURIComponent(unitName)}`;
    return this.#pages(path, async (p) => {
      const d = await this.#get(StatePageSchema, p);
      return { items: d.states, next: d.nextPageToken };
    });
  }

  /**
   * The state of a unit placed on one machine (GET /fleet/v1/state/<name>, which reads only
   * that unit's states), or undefined when none is reported yet.
   */
  async stateOf(name: string): Promise<WireState | undefined> {
    const path = `/fleet/v1/state/${encodeURIComponent(name)}`;
    const a = await this.request("GET", path);
    if (a.status === 404) return undefined;
    return this.#parse(WireStateSchema, this.#check(a, path), path);
  }

  machines(): Promise<WireMachine[]> {
    return this.#pages("/fleet/v1/machines", async (p) => {
      const d = await this.#get(MachinePageSchema, p);
      return { items: d.machines, next: d.nextPageToken };
    });
  }

  /** systemd's status of the unit on its machine (fleet-ts: no SSH). */
  unitStatus(name: string, machineID?: string): Promise<UnitStatus> {
    const q = machineID === undefined ? "" : `?machineID=${encodeURIComponent(machineID)}`;
    return this.#get(UnitStatusSchema, `${unitPath(name)}/status${q}`);
  }

  async drain(machineID: string): Promise<DrainInfo> {
    const path = `${machinePath(machineID)}/drain`;
    return this.#parse(DrainInfoSchema, this.#check(await this.request("POST", path), path), path);
  }

  async undrain(machineID: string): Promise<void> {
    const path = `${machinePath(machineID)}/drain`;
    this.#check(await this.request("DELETE", path), path);
  }

  drainInfo(machineID: string): Promise<DrainInfo> {
    return this.#get(DrainInfoSchema, `${machinePath(machineID)}/drain`);
  }

  /**
   * Opens a WebSocket to `path` (with its query). Errors before the upgrade come back as
   * ApiResponseError with the API's error entity, like any other call.
   */
  openSocket(path: string): Promise<ApiSocket> {
    const ep = this.opts.endpoint;
    const url =
      ep.socketPath !== undefined
        ? `ws+unix://${ep.socketPath}:${path}`
        : `${ep.protocol === "https:" ? "wss:" : "ws:"}//${ep.host}${path}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: this.#headers(),
        handshakeTimeout: this.opts.timeoutMs,
        ...(ep.tls ?? {}),
      });
      // Listening from the start: a server that writes at once (a ready event in the same
      // packet as the upgrade) would otherwise speak before anyone listens.
      const socket = new ApiSocket(ws, this.opts.silenceMs ?? FLEET_PACE.silenceMs);
      ws.once("open", () => {
        ws.removeAllListeners("error");
        resolve(socket);
      });
      ws.once("unexpected-response", (_req, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            this.#check(
              { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") },
              path,
            );
            reject(new ApiProtocolError(`the API did not upgrade ${path} to a WebSocket`));
          } catch (err) {
            reject(err);
          }
          ws.terminate();
        });
      });
      ws.once("error", (err) => reject(new ApiUnreachableError(ep.display, err.message)));
    });
  }
}

/**
 * One WebSocket message read as `schema` says; ApiProtocolError naming the stream and what is
 * wrong with it (not JSON, or which field), in one line.
 */
export function parseMessage<S extends z.ZodType>(
  schema: S,
  text: string,
  stream: string,
): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
    throw new ApiProtocolError(
      `${stream} sent a message fleetctl cannot read: not JSON: ${JSON.stringify(shown)}`,
    );
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ApiProtocolError(
      `${stream} sent a message fleetctl cannot read: ${issue?.path.join(".") || "message"}: ${issue?.message ?? "unexpected shape"}`,
    );
  }
  return r.data;
}

/**
 * A WebSocket whose messages are kept until the caller starts reading them, and that closes
 * itself when the API falls silent. The API pings every 15 s, but a host that vanishes without
 * a FIN (powered off, partitioned) leaves the TCP connection open forever; so after half of
 * `silenceMs` without a ping, pong or message fleetctl pings the API itself, and after
 * `silenceMs` it terminates the socket, which its close listeners then see as any other close
 * (--watch reconnects, journal -f ends with an error).
 */
export class ApiSocket {
  #queue: string[] | undefined = [];
  #reader: ((text: string) => void) | undefined;
  #heard = Date.now();
  #silentFor: number | undefined;

  constructor(
    readonly ws: WebSocket,
    silenceMs: number,
  ) {
    const alive = () => {
      this.#heard = Date.now();
    };
    ws.on("ping", alive);
    ws.on("pong", alive);
    ws.on("open", alive);
    ws.on("message", (data) => {
      alive();
      const text = String(data);
      if (this.#reader !== undefined) this.#reader(text);
      else this.#queue?.push(text);
    });
    // A quarter of the limit: a dead socket is noticed between silenceMs and 1.25 x silenceMs.
    const check = setInterval(() => this.#check(silenceMs), Math.max(1, silenceMs / 4));
    check.unref();
    ws.on("close", () => clearInterval(check));
  }

  #check(silenceMs: number): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.#heard;
    if (quiet >= silenceMs) {
      this.#silentFor = quiet;
      this.ws.terminate();
    } else if (quiet >= silenceMs / 2) {
      this.ws.ping();
    }
  }

  /** Delivers the messages received so far, then each new one. */
  onMessage(reader: (text: string) => void): void {
    this.#reader = reader;
    const queued = this.#queue ?? [];
    this.#queue = undefined;
    for (const text of queued) reader(text);
  }

  /**
   * `listener(why)` once the socket is closed; `why` says whether the API closed it or fleetctl
   * gave up on a silent API ("the API closed the stream", "the API sent nothing ...").
   */
  onClose(listener: (why: string) => void): void {
    this.ws.on("close", (code: number, reason: Buffer) => {
      if (this.#silentFor !== undefined) {
        listener(
          `the API sent nothing, not even a ping, for ${(this.#silentFor / 1000).toFixed(1)} s (the connection is presumed dead)`,
        );
      } else {
        const text = reason.toString("utf8");
        listener(`the API closed the stream (code ${code}${text === "" ? "" : `: ${text}`})`);
      }
    });
    // Errors are followed by "close"; listening keeps them from being thrown.
    this.ws.on("error", () => {});
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
