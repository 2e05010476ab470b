/**
 * fleetctl's WebSocket streams (journal -f, --watch, list-units' snapshot) against servers that
 * misbehave: one that falls silent (a host gone without a FIN: no pings, no pongs), one that
 * sends a frame that is not JSON, and a Ctrl-C that lands while the socket is still opening.
 * The servers are real HTTP + `ws` servers on loopback, written here to misbehave on purpose.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { FLEET_PACE, type Pace } from "../cli/context.js";
import { runFleetctl } from "../cli/program.js";

const servers: Server[] = [];
const wsServers: WebSocketServer[] = [];
const sockets = new Set<Socket>();

const UNIT = {
  name: "a.service",
  currentState: "launched",
  desiredState: "launched",
  machineID: "aaaaaaaa000000000000000000000001",
  options: [{ section: "Service", name: "ExecStart", value: "/bin/sleep 1000" }],
};

interface Fake {
  readonly url: string;
  /** The query of every WebSocket upgrade, in order. */
  readonly upgrades: URLSearchParams[];
  /** Pings each server-side socket received from fleetctl. */
  readonly pings: number[];
}

/**
 * A fleet API that answers GET of a.service and upgrades every other path to a WebSocket,
 * handing it to `onSocket`. `autoPong: false` makes it a host that stopped answering; it never
 * pings on its own. `beforeUpgrade` runs after the request arrived and before the 101 is sent.
 */
async function fakeApi(opts: {
  autoPong: boolean;
  onSocket: (ws: WebSocket, query: URLSearchParams, index: number) => void;
  beforeUpgrade?: () => void;
}): Promise<Fake> {
  const upgrades: URLSearchParams[] = [];
  const pings: number[] = [];
  const wss = new WebSocketServer({ noServer: true, autoPong: opts.autoPong });
  wsServers.push(wss);
  const server = createServer((req, res) => {
    const found = req.url === "/fleet/v1/units/a.service";
    res.writeHead(found ? 200 : 404, { "Content-Type": "application/json" });
    res.end(
      JSON.stringify(found ? UNIT : { error: { code: 404, message: `no route ${req.url}` } }),
    );
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req: IncomingMessage, socket, head) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    opts.beforeUpgrade?.();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const index = upgrades.push(query) - 1;
      pings[index] = 0;
      ws.on("ping", () => {
        pings[index] = (pings[index] ?? 0) + 1;
      });
      opts.onSocket(ws, query, index);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, upgrades, pings };
}

function fleetctl(args: string[], opts: { signal?: AbortSignal; pace?: Pace } = {}) {
  let out = "";
  let err = "";
  const done = runFleetctl(
    args,
    {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
      env: {},
      cwd: "/",
      isTTY: false,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    },
    opts.pace ?? FLEET_PACE,
  );
  return { done, out: () => out, err: () => err };
}

/** Short enough that a silent server is given up on quickly, long enough for loopback. */
const QUICK: Pace = { ...FLEET_PACE, silenceMs: 400 };

afterAll(async () => {
  for (const wss of wsServers) for (const c of wss.clients) c.terminate();
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe("fleetctl gives up on a stream whose API fell silent", () => {
  it("journal -f ends with one error line when the API neither pings nor answers pings", async () => {
    const api = await fakeApi({
      autoPong: false,
      onSocket: (ws) => ws.send(JSON.stringify({ type: "line", line: "started" })),
    });
    const r = fleetctl(["--endpoint", api.url, "journal", "-f", "a.service"], { pace: QUICK });
    expect(await r.done).toBe(1);
    expect(r.out()).toBe("started\n");
    expect(r.err()).toMatch(
      /^Error reading journal of a\.service: the API sent nothing, not even a ping, for \d+\.\d s \(the connection is presumed dead\)\n$/,
    );
    // fleetctl asked before giving up.
    expect(api.pings[0]).toBeGreaterThan(0);
  });

  it("journal -f stays open on a quiet API that answers fleetctl's pings", async () => {
    // This server never pings: only fleetctl's own pings, answered, keep the stream alive
    // past silenceMs. The end comes once it has been pinged three times.
    const pace: Pace = { ...FLEET_PACE, silenceMs: 2000 };
    const api = await fakeApi({
      autoPong: true,
      onSocket: (ws) => {
        let n = 0;
        ws.on("ping", () => {
          if (++n === 3) ws.send(JSON.stringify({ type: "end" }));
        });
      },
    });
    const r = fleetctl(["--endpoint", api.url, "journal", "-f", "a.service"], { pace });
    expect(await r.done).toBe(0);
    expect(r.err()).toBe("");
    expect(api.upgrades).toHaveLength(1);
  });

  it("--watch reconnects from the last revision seen when the event stream falls silent", async () => {
    const abort = new AbortController();
    const api = await fakeApi({
      autoPong: false,
      onSocket: (ws, query, index) => {
        if (index === 0) {
          ws.send(
            JSON.stringify({
              type: "state",
              op: "put",
              revision: 7,
              name: "a.service",
              machineID: UNIT.machineID,
              state: { name: "a.service", machineID: UNIT.machineID, systemdSubState: "running" },
            }),
          );
          ws.send(JSON.stringify({ type: "ready", revision: 7 }));
          return;
        }
        ws.send(JSON.stringify({ type: "ready", revision: Number(query.get("from")) }));
        abort.abort();
      },
    });
    const r = fleetctl(["--endpoint", api.url, "list-units", "--watch", "--fields", "unit,sub"], {
      pace: QUICK,
      signal: abort.signal,
    });
    expect(await r.done).toBe(0);
    expect(api.upgrades.map((q) => q.get("snapshot") ?? `from=${q.get("from")}`)).toEqual([
      "true",
      "from=7",
    ]);
    expect(r.err()).toMatch(
      /^fleetctl: event stream closed: the API sent nothing, not even a ping, for \d+\.\d s \(the connection is presumed dead\); reconnecting\n$/,
    );
    // One table, from the snapshot; the resumed stream brought no change to redraw.
    expect(r.out()).toMatch(/^UNIT\s+SUB\na\.service\s+running\n\n$/);
  });
});

describe("fleetctl interrupted while a stream's socket is opening exits 0", () => {
  // The abort fires before the 101 is even sent, so before fleetctl listens for it; with the
  // default 35 s liveness limit a missed abort would hang past the test's timeout.
  it.each([[["journal", "-f", "a.service"]], [["list-units", "--watch"]]])("%j", async (args) => {
    const abort = new AbortController();
    const api = await fakeApi({
      autoPong: true,
      beforeUpgrade: () => abort.abort(),
      onSocket: () => {},
    });
    const r = fleetctl(["--endpoint", api.url, ...args], { signal: abort.signal });
    expect(await r.done).toBe(0);
    expect(r.out()).toBe("");
    expect(r.err()).toBe("");
    expect(api.upgrades).toHaveLength(1);
  });
});

describe("fleetctl reports a frame it cannot read in one line, exit 1", () => {
  const notJson = "<html>proxy error</html>";
  it.each([
    [
      ["journal", "a.service"],
      notJson,
      `Error reading journal of a.service: the journal stream sent a message fleetctl cannot read: not JSON: ${JSON.stringify(notJson)}`,
    ],
    [
      ["journal", "a.service"],
      JSON.stringify({ type: "line", line: 3 }),
      "Error reading journal of a.service: the journal stream sent a message fleetctl cannot read: line: Invalid input: expected string, received number",
    ],
    [
      ["list-units", "--watch"],
      notJson,
      `Error: the event stream sent a message fleetctl cannot read: not JSON: ${JSON.stringify(notJson)}`,
    ],
    [
      ["list-units"],
      notJson,
      `Error retrieving list of units from repository: the API's event stream sent a message fleetctl cannot read: not JSON: ${JSON.stringify(notJson)}`,
    ],
  ])("%j given %s", async (args, frame, message) => {
    const api = await fakeApi({ autoPong: true, onSocket: (ws) => ws.send(frame) });
    const r = fleetctl(["--endpoint", api.url, ...args]);
    expect(await r.done).toBe(1);
    expect(r.out()).toBe("");
    expect(r.err()).toBe(`${message}\n`);
  });
});
