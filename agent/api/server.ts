/**
 * @module agent/api/server
 * Where the API listens: a unix socket (fleet's unix:///var/run/fleet.sock, mode 0660: access
 * is by file permission) and optionally TCP, plain or TLS. TCP requires an authentication: a
 * bearer token, or TLS client certificates signed by a given CA, unless explicitly started
 * insecure (fleet served TCP with no authentication at all).
 */

import { timingSafeEqual } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import type { Duplex } from "node:stream";
import { errorEntity } from "./errors.js";

export class ListenError extends Error {
  override name = "ListenError";
}

export interface Listener {
  readonly address: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
/** A WebSocket upgrade request (the events and journal streams). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const TOKEN_MESSAGE = "missing or wrong bearer token: send Authorization: Bearer <token>";

function tokenOk(req: IncomingMessage, want: Buffer): boolean {
  const got = Buffer.from(req.headers.authorization ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}

function withToken(handler: Handler, token: string): Handler {
  const want = Buffer.from(`Bearer ${token}`);
  return (req, res) => {
    if (!tokenOk(req, want)) {
      res.writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": "Bearer" });
      res.end(errorEntity(401, TOKEN_MESSAGE));
      return;
    }
    handler(req, res);
  };
}

/** The same check for upgrades: refused with a plain 401 before any WebSocket exists. */
function upgradeWithToken(upgrade: UpgradeHandler, token: string): UpgradeHandler {
  const want = Buffer.from(`Bearer ${token}`);
  return (req, socket, head) => {
    if (!tokenOk(req, want)) {
      const body = errorEntity(401, TOKEN_MESSAGE);
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWWW-Authenticate: Bearer\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    upgrade(req, socket, head);
  };
}

/** TLS for a TCP listener; with `clientCa`, only clients with a certificate it signed get in. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer;
}

/** Without an upgrade handler, an upgrade request gets a 404 rather than a hung socket. */
function serveUpgrades(server: Server | TlsServer, upgrade: UpgradeHandler | undefined): void {
  server.on(
    "upgrade",
    upgrade ??
      ((_req: IncomingMessage, socket: Duplex) => {
        const body = errorEntity(404, "no WebSocket here");
        socket.end(
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }),
  );
}

function listenOn(
  server: Server | TlsServer,
  target: string | { port: number; host: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (typeof target === "string") server.listen(target, done);
    else server.listen(target.port, target.host, done);
  });
}

/**
 * Sockets systemd handed over (socket activation: LISTEN_PID is us, LISTEN_FDS of them from
 * fd 3), as fleet took its API socket from fleet.socket.
 */
export function activatedFds(env: NodeJS.ProcessEnv = process.env): number[] {
  if (env.LISTEN_PID !== String(process.pid)) return [];
  const n = Number(env.LISTEN_FDS ?? 0);
  return Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => 3 + i) : [];
}

/**
 * Serves on a socket systemd handed over. fleet's documented remote API was a `ListenStream=`
 * port added to fleet.socket: a TCP socket that arrives this way gets the same rule as one
 * fleetd binds itself (a bearer token, unless api_insecure_tcp), never a free pass.
 */
export async function listenFd(
  fd: number,
  handler: Handler,
  upgrade?: UpgradeHandler,
  opts: { token?: string; insecureTcp?: boolean } = {},
): Promise<Listener> {
  // Until the socket's kind is known, the strictest rule applies: the token, or nothing.
  const notYet: Handler = (_req, res) => {
    res.writeHead(503, { "Content-Type": "application/json" });
    res.end(errorEntity(503, "fleetd is starting; retry"));
  };
  let serve = opts.token === undefined ? notYet : withToken(handler, opts.token);
  let serveUpgrade =
    upgrade === undefined || opts.token === undefined
      ? undefined
      : upgradeWithToken(upgrade, opts.token);
  const server = createServer((req, res) => serve(req, res));
  serveUpgrades(
    server,
    upgrade === undefined
      ? undefined
      : (req, socket, head) => {
          if (serveUpgrade !== undefined) serveUpgrade(req, socket, head);
          else socket.destroy();
        },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ fd }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr !== null && typeof addr === "object") {
    if (opts.token === undefined && !opts.insecureTcp) {
      await new Promise((r) => server.close(r));
      throw new ListenError(
        `systemd handed fleetd a TCP socket (fd ${fd}, ${addr.address}:${addr.port}) and no authentication is set: set api_token_file, or api_insecure_tcp=true`,
      );
    }
    if (opts.token === undefined) {
      serve = handler; // api_insecure_tcp, said explicitly
      serveUpgrade = upgrade;
    }
  } else {
    // A unix socket: access is by file permission, as for the one fleetd binds.
    serve = handler;
    serveUpgrade = upgrade;
  }
  return { address: `fd://${fd}`, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Listens on `unix:///path` or `tcp://host:port`; TCP needs `token` or `tls.clientCa` unless
 * `insecureTcp`. With `tls` a TCP listener speaks HTTPS (a unix socket never does).
 */
export async function listen(
  address: string,
  handler: Handler,
  opts: { token?: string; insecureTcp?: boolean; upgrade?: UpgradeHandler; tls?: ServerTls } = {},
): Promise<Listener> {
  if (address.startsWith("unix://")) {
    const path = address.slice("unix://".length);
    rmSync(path, { force: true }); // a socket left by a previous fleetd
    const server = createServer(handler);
    serveUpgrades(server, opts.upgrade);
    await listenOn(server, path);
    chmodSync(path, 0o660);
    return { address, close: () => new Promise((r) => server.close(() => r())) };
  }
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (m === null)
    throw new ListenError(`cannot listen on ${address}: use unix:///path or tcp://host:port`);
  if (opts.token === undefined && opts.tls?.clientCa === undefined && !opts.insecureTcp) {
    throw new ListenError(
      `refusing to serve the API on ${address} without authentication: set api_token_file or api_tls_client_ca, or api_insecure_tcp=true`,
    );
  }
  const guarded = opts.token === undefined ? handler : withToken(handler, opts.token);
  const tls = opts.tls;
  const server =
    tls === undefined
      ? createServer(guarded)
      : createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa === undefined
              ? {}
              : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
          guarded,
        );
  serveUpgrades(
    server,
    opts.upgrade === undefined || opts.token === undefined
      ? opts.upgrade
      : upgradeWithToken(opts.upgrade, opts.token),
  );
  await listenOn(server, { host: (m[1] as string).replace(/^\[|\]$/g, ""), port: Number(m[2]) });
  return { address, close: () => new Promise((r) => server.close(() => r())) };
}
