/**
 * @module agent/api/keepalive
 * Pings on a WebSocket, and its end when the pongs stop: a peer that vanished without closing
 * (network lost, host powered off) would otherwise hold its stream, and what feeds it, forever.
 */
import type { WebSocket } from "ws";

const PING_MS = 15_000;
const PONG_TIMEOUT_MS = 30_000;

/** Pings every 15 s; a client that answered none for 30 s is dropped. */
export function keepAlive(ws: WebSocket, cleanups: (() => void)[]): void {
  let lastPong = Date.now();
  ws.on("pong", () => {
    lastPong = Date.now();
  });
  const timer = setInterval(() => {
    if (Date.now() - lastPong > PONG_TIMEOUT_MS) {
      ws.terminate();
      return;
    }
    ws.ping();
  }, PING_MS);
  timer.unref();
  cleanups.push(() => clearInterval(timer));
}
