/**
 * @module agent/api/proxy
 * Forwarding a journal or status request to the fleetd of the machine that runs the unit, at
 * the `apiUrl` it advertises, with the cluster's bearer token (and, over HTTPS, this fleetd's
 * certificate as its client certificate and the cluster's CA to check the other's). The upstream connection is made
 * before the client's upgrade is accepted, so a machine that cannot be reached is a plain 502
 * naming it, and an upstream refusal (404, 409, ...) reaches the client as is.
 * `X-Fleet-Proxied` marks a forwarded request: it is served where it lands or refused, never
 * forwarded again (two fleetds with different views must not bounce it between them).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { WebSocket } from "ws";
import { ApiError } from "./errors.js";
import { keepAlive } from "./keepalive.js";

export const PROXIED_HEADER = "x-fleet-proxied";
const CONNECT_TIMEOUT_MS = 10_000;

/** How this fleetd proves itself to another one. */
export interface PeerAuth {
  readonly token?: string;
  /** For https apiUrls: client certificate and key, and the CA the peer's certificate chains to. */
  readonly tls?: { readonly cert?: Buffer; readonly key?: Buffer; readonly ca?: Buffer };
}

function headers(auth: PeerAuth): Record<string, string> {
  return {
    [PROXIED_HEADER]: "1",
    ...(auth.token === undefined ? {} : { Authorization: `Bearer ${auth.token}` }),
  };
}

/** An upstream answer other than the upgrade: relayed to the client before its own upgrade. */
export class UpstreamRefused extends Error {
  override name = "UpstreamRefused";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upstream answered ${status}`);
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => {
      if (body.length < 1 << 16) body += c;
    });
    res.on("end", () => resolve(body));
    res.on("error", () => resolve(body));
  });
}

/** Opens the upstream WebSocket; rejects with UpstreamRefused or a 502 ApiError. */
export function openUpstream(
  apiUrl: string,
  path: string,
  auth: PeerAuth,
  machineId: string,
): Promise<WebSocket> {
  const url = new URL(path, apiUrl.replace(/^http/, "ws"));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: headers(auth),
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      ...(url.protocol === "wss:" ? (auth.tls ?? {}) : {}),
    });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      void readBody(res).then((body) => reject(new UpstreamRefused(res.statusCode ?? 502, body)));
    });
    ws.once("error", (err) =>
      reject(
        new ApiError(
          502,
          `cannot reach the fleetd of machine ${machineId} at ${apiUrl}: ${err.message}`,
        ),
      ),
    );
  });
}

/** Relays upstream messages to the client until either side closes. */
export function pipeJournal(client: WebSocket, upstream: WebSocket): void {
  let ended = false;
  // Either side may vanish without a close: pings find out (and the other side is closed).
  const cleanups: (() => void)[] = [];
  keepAlive(client, cleanups);
  keepAlive(upstream, cleanups);
  const release = () => {
    for (const c of cleanups.splice(0)) c();
  };
  client.on("close", release);
  upstream.on("close", release);
  upstream.on("message", (data, isBinary) => {
    if (client.readyState !== client.OPEN) return;
    const text = isBinary ? undefined : data.toString();
    if (text === undefined) return;
    if (text.startsWith('{"type":"end"') || text.startsWith('{"type":"error"')) ended = true;
    client.send(text, () => {
      if (upstream.isPaused && client.bufferedAmount < 1 << 19) upstream.resume();
    });
    if (client.bufferedAmount > 1 << 20) upstream.pause();
  });
  upstream.on("close", (code, reason) => {
    if (client.readyState !== client.OPEN) return;
    // The unit's host went away mid-stream: that is the end of its journal.
    if (!ended) client.send(JSON.stringify({ type: "end" }));
    client.close(code >= 4000 || code === 1000 ? code : 1000, reason.toString());
  });
  upstream.on("error", () => upstream.terminate());
  const stop = () => {
    if (upstream.readyState === upstream.OPEN || upstream.readyState === upstream.CONNECTING)
      upstream.terminate();
  };
  client.on("close", stop);
  client.on("error", stop);
}

/** GET on the other fleetd; resolves with its status and body. */
export function proxyGet(
  apiUrl: string,
  path: string,
  auth: PeerAuth,
  machineId: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(path, apiUrl);
  const secure = url.protocol === "https:";
  const request = secure ? httpsRequest : httpRequest;
  const options = {
    method: "GET",
    headers: headers(auth),
    timeout: 60_000,
    ...(secure ? (auth.tls ?? {}) : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      void readBody(res).then((body) => resolve({ status: res.statusCode ?? 502, body }));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 60 s")));
    req.on("error", (err) =>
      reject(
        new ApiError(
          502,
          `cannot reach the fleetd of machine ${machineId} at ${apiUrl}: ${err.message}`,
        ),
      ),
    );
    req.end();
  });
}
