/**
 * @module agent/api/journal
 * GET /fleet/v1/units/<name>/journal (WebSocket) and /status (HTTP): journalctl and systemctl
 * of the machine that runs the unit. This fleetd runs them itself when the unit runs here;
 * otherwise it forwards the request to that machine's fleetd (agent/api/proxy.ts), the one
 * place where fleetds talk to each other.
 */
import type { ChildProcess } from "node:child_process";
import type { WebSocket } from "ws";
import type { Logger } from "../logging/logger.js";
import { ApiError } from "./errors.js";
import { journalArgv, spawnOnHost } from "./host-commands.js";
import { keepAlive } from "./keepalive.js";

export interface JournalQuery {
  readonly lines: number;
  readonly follow: boolean;
  readonly machineId: string | null;
}

export function parseJournalQuery(params: URLSearchParams): JournalQuery {
  for (const key of params.keys()) {
    if (!["lines", "follow", "machineID"].includes(key))
      throw new ApiError(400, `unknown query parameter ${key}: use lines, follow or machineID`);
  }
  const linesText = params.get("lines") ?? "10";
  if (!/^\d+$/.test(linesText) || Number(linesText) > 10_000)
    throw new ApiError(400, `lines=${linesText}: use a whole number from 0 to 10000`);
  const followText = params.get("follow") ?? "false";
  if (followText !== "true" && followText !== "false")
    throw new ApiError(400, `follow=${followText}: use follow=true or follow=false`);
  return {
    lines: Number(linesText),
    follow: followText === "true",
    machineId: machineIdParam(params),
  };
}

/** `machineID`, when given, must look like one (the full 32-hex ID). */
export function machineIdParam(params: URLSearchParams): string | null {
  const id = params.get("machineID");
  if (id !== null && !/^[0-9a-f]{32}$/.test(id))
    throw new ApiError(400, `machineID=${id} is not a machine ID (32 lowercase hex characters)`);
  return id;
}

/** Unsent bytes above which journalctl's output is paused until the client catches up. */
const HIGH_WATER = 1 << 20;

/**
 * Streams this host's journal of `unit` to the client: one message per line, `end` when
 * journalctl is done (never, with follow), `error` when it fails. The child is killed when the
 * client goes away.
 */
export function serveLocalJournal(
  ws: WebSocket,
  unit: string,
  query: JournalQuery,
  hostPrefix: readonly string[],
  log: Logger,
): void {
  let child: ChildProcess;
  try {
    child = spawnOnHost(hostPrefix, journalArgv(unit, query.lines, query.follow));
  } catch (err) {
    sendError(ws, 500, `cannot run journalctl on this host: ${(err as Error).message}`);
    return;
  }
  let finished = false;
  // A client that vanished without closing (network lost, laptop asleep) is noticed by its
  // missing pongs, so a follow on a quiet unit does not keep journalctl running forever.
  const cleanups: (() => void)[] = [];
  keepAlive(ws, cleanups);
  const stop = () => {
    for (const c of cleanups.splice(0)) c();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  ws.on("close", stop);
  ws.on("error", stop);
  let partial = "";
  let stderr = "";
  const stdout = child.stdout;
  const resumeWhenDrained = () => {
    if (stdout?.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) stdout.resume();
  };
  stdout?.setEncoding("utf8");
  stdout?.on("data", (chunk: string) => {
    const text = partial + chunk;
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify({ type: "line", line }), resumeWhenDrained);
    }
    if (ws.bufferedAmount > HIGH_WATER) stdout.pause();
  });
  child.stderr?.on("data", (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString("utf8");
  });
  child.on("error", (err) => {
    if (finished) return;
    finished = true;
    sendError(ws, 500, `cannot run journalctl on this host: ${err.message}`);
  });
  child.on("close", (code, signal) => {
    if (finished) return;
    finished = true;
    if (ws.readyState !== ws.OPEN) return;
    if (partial !== "") ws.send(JSON.stringify({ type: "line", line: partial }));
    if (code === 0) {
      ws.send(JSON.stringify({ type: "end" }));
      ws.close(1000, "end of journal");
      return;
    }
    log.warn("journalctl failed", {
      unit,
      code: String(code),
      signal: String(signal),
      stderr: stderr.trim(),
    });
    sendError(
      ws,
      500,
      `journalctl ${code === null ? `was killed (${signal})` : `exited with ${code}`}: ${stderr.trim() || "no message"}`,
    );
  });
}

export function sendError(ws: WebSocket, code: number, message: string): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(JSON.stringify({ type: "error", code, message }));
  ws.close(4000 + code, message.slice(0, 120));
}
