/**
 * @module agent/api/api
 * The whole API of one fleetd: the HTTP routes (agent/api/routes.ts) and the WebSocket
 * upgrades (`/fleet/v1/events`, `/fleet/v1/units/<name>/journal`). A bad upgrade request is
 * answered, before any upgrade, with fleet's error entity and its status, like any route.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { NotFoundError } from "../registry/errors.js";
import { ApiError, decodePathSegment, errorEntity } from "./errors.js";
import { EventHub, parseEventQuery } from "./events.js";
import { parseJournalQuery, serveLocalJournal } from "./journal.js";
import { openUpstream, PROXIED_HEADER, pipeJournal, UpstreamRefused } from "./proxy.js";
import { type ApiOptions, apiHandler } from "./routes.js";
import type { UpgradeHandler } from "./server.js";
import { resolveUnitTarget } from "./unit-target.js";

export interface Api {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly upgrade: UpgradeHandler;
  readonly events: EventHub;
  /** Closes every WebSocket (listeners cannot close while they are open) and the event feeds. */
  close(): Promise<void>;
}

/** Answers an upgrade request with an HTTP error instead (before any upgrade). */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  body: string,
  extra: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}

export function createApi(opts: ApiOptions): Api {
  const log = opts.log.with({ component: "api" });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const events = new EventHub({
    registry: opts.registry,
    log: opts.log,
    ...(opts.clientLimitBytes === undefined ? {} : { clientLimitBytes: opts.clientLimitBytes }),
  });
  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    new Promise<WebSocket>((resolve) => wss.handleUpgrade(req, socket, head, resolve));

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fleet");
    if ((req.method ?? "GET") !== "GET") throw new ApiError(405, "only GET can be upgraded");
    // ws drops a bad handshake without a word to us: refuse it before anything is started for
    // it (a journalctl here, or a stream from another fleetd that nobody would ever close).
    const problem = handshakeProblem(req);
    if (problem !== undefined) throw new ApiError(400, problem);
    if (url.pathname === "/fleet/v1/events") {
      const query = parseEventQuery(url.searchParams);
      const ws = await accept(req, socket, head);
      await events.serve(ws, query);
      return;
    }
    const m = /^\/fleet\/v1\/units\/([^/]+)\/journal$/.exec(url.pathname);
    if (m === null) throw new ApiError(404, `no WebSocket at ${url.pathname}`);
    const unit = decodePathSegment(m[1] as string);
    const query = parseJournalQuery(url.searchParams);
    const target = await resolveUnitTarget(opts.registry, opts.machineId, unit, query.machineId);
    if (target.local) {
      const ws = await accept(req, socket, head);
      serveLocalJournal(ws, unit, query, opts.hostCommandPrefix ?? [], log);
      return;
    }
    if (req.headers[PROXIED_HEADER] !== undefined)
      throw new ApiError(
        502,
        `this fleetd (machine ${opts.machineId ?? "unknown"}) was asked, by another fleetd, for machine ${target.machineId}: their views of the cluster differ; retry`,
      );
    const path = `/fleet/v1/units/${encodeURIComponent(unit)}/journal?lines=${query.lines}&follow=${query.follow}&machineID=${target.machineId}`;
    // Connecting may take seconds: a client that leaves meanwhile must not leave the upstream
    // (and the journalctl -f behind it) open.
    let clientGone = false;
    const gone = () => {
      clientGone = true;
    };
    socket.once("close", gone);
    socket.once("end", gone);
    const upstream = await openUpstream(
      target.apiUrl as string,
      path,
      opts.peerAuth ?? {},
      target.machineId,
    ).finally(() => {
      socket.off("close", gone);
      socket.off("end", gone);
    });
    if (clientGone || socket.destroyed || !socket.readable || !socket.writable) {
      upstream.terminate();
      socket.destroy();
      return;
    }
    pipeJournal(await accept(req, socket, head), upstream);
  };

  return {
    handler: apiHandler(opts),
    events,
    upgrade: (req, socket, head) => {
      socket.on("error", () => socket.destroy());
      upgrade(req, socket, head).catch((err: unknown) => {
        if (err instanceof UpstreamRefused) return refuseUpgrade(socket, err.status, err.body);
        if (err instanceof ApiError)
          return refuseUpgrade(socket, err.status, errorEntity(err.status, err.message));
        if (err instanceof NotFoundError)
          return refuseUpgrade(socket, 404, errorEntity(404, err.message));
        log.error("WebSocket request failed", { url: req.url, error: String(err) });
        refuseUpgrade(socket, 500, errorEntity(500, "internal error; see fleetd's log"));
      });
    },
    close: async () => {
      await events.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

/** Why a request is no WebSocket handshake ws would complete, or undefined if it is one. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket")
    return "not a WebSocket handshake: send Upgrade: websocket";
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || !/^[+/0-9A-Za-z]{22}==$/.test(key))
    return "not a WebSocket handshake: Sec-WebSocket-Key is missing or malformed";
  const version = req.headers["sec-websocket-version"];
  if (version !== "13" && version !== "8")
    return "unsupported WebSocket version: send Sec-WebSocket-Version: 13";
  return undefined;
}
