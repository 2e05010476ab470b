/**
 * fleetctl's failures: bad flags and arguments (exit 2, nothing sent), endpoints that cannot be
 * used or reached (a clear message naming the endpoint, exit 1), and the bearer token sent to
 * a TCP API. The servers here are real HTTP servers on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { act, type Runner } from "../cli/command-kit.js";
import { FLEET_PACE } from "../cli/context.js";
import { CliError } from "../cli/errors.js";
import { runFleetctl } from "../cli/program.js";

let dir: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();

async function fleetctl(args: string[], env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  const code = await runFleetctl(args, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    env,
    cwd: dir,
    isTTY: false,
  });
  return { out, err, code };
}

/** A loopback HTTP server; `answer` decides each response (undefined: never answer). */
async function serve(
  answer: (req: IncomingMessage) => { status: number; body: string } | undefined,
): Promise<{ url: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    const a = answer(req);
    if (a === undefined) return;
    res.writeHead(a.status, { "Content-Type": "application/json" });
    res.end(a.body);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetctl-errors-"));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

describe("fleetctl usage errors exit 2 and send nothing", () => {
  it.each([
    [["list-units", "--bogus"], "error: unknown option '--bogus'"],
    [["start", "--block-attempts=x", "a.service"], "--block-attempts must be an integer"],
    [["list-units", "-o", "yaml"], "Allowed choices are table, json"],
    [["journal", "--lines=lots", "a.service"], "--lines must be an integer"],
    [["list-machines", "extra"], "too many arguments"],
  ])("rejects %j", async (args, message) => {
    const { url, seen } = await serve(() => ({ status: 200, body: "{}" }));
    const r = await fleetctl(["--endpoint", url, ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain(message);
    expect(seen).toHaveLength(0);
  });

  it("an unknown command says how to get help", async () => {
    expect(await fleetctl(["frobnicate"])).toEqual({
      out: "",
      err: 'Error: unknown command "frobnicate" for "fleetctl"\nRun \'fleetctl --help\' for usage.\n',
      code: 2,
    });
  });

  it("a bad --fields is fleet's message and exit 1", async () => {
    const { url, seen } = await serve(() => ({ status: 200, body: "{}" }));
    expect(await fleetctl(["--endpoint", url, "list-unit-files", "--fields=unit,nope"])).toEqual({
      out: "",
      err: 'Invalid key in output format: "nope"\n',
      code: 1,
    });
    expect(await fleetctl(["--endpoint", url, "list-units", "--fields="])).toEqual({
      out: "",
      err: "Must define output format\n",
      code: 1,
    });
    expect(seen).toHaveLength(0);
  });
});

describe("fleetctl endpoints", () => {
  it("names an unreachable unix socket and exits 1", async () => {
    const sock = join(dir, "nobody.sock");
    const r = await fleetctl(["list-units"], { FLEETCTL_ENDPOINT: `unix://${sock}` });
    expect(r).toEqual({
      out: "",
      err: `Error retrieving list of units from repository: cannot reach the fleet API at unix://${sock}: connect ENOENT ${sock} (is fleetd running there? set --endpoint or FLEETCTL_ENDPOINT)\n`,
      code: 1,
    });
  });

  it("names a refused TCP endpoint and exits 1", async () => {
    const { url } = await serve(() => ({ status: 200, body: "{}" }));
    await Promise.all(servers.splice(-1).map((s) => new Promise((r) => s.close(r))));
    const r = await fleetctl(["--endpoint", url, "list-machines"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `Error retrieving list of active machines from fleet API (cannot reach the fleet API at ${url}: connect ECONNREFUSED ${url.slice(7)} (is fleetd running there? set --endpoint or FLEETCTL_ENDPOINT))\n`,
    );
  });

  it("gives up on a silent API after --request-timeout", async () => {
    const { url } = await serve(() => undefined);
    const r = await fleetctl(["--endpoint", url, "--request-timeout", "0.2", "cat", "a.service"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `Error retrieving Unit a.service: cannot reach the fleet API at ${url}: no answer within 0.2s (see --request-timeout) (is fleetd running there? set --endpoint or FLEETCTL_ENDPOINT)\n`,
    );
  });

  it.each([
    ["unix://var/run/fleet.sock", 'unable to connect to host "var" with scheme "unix"'],
    ["ftp://x:1", 'unsupported endpoint scheme "ftp"'],
    ["not a url", 'invalid endpoint "not a url"'],
  ])("refuses the endpoint %s", async (endpoint, message) => {
    const r = await fleetctl(["--endpoint", endpoint, "list-units"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });

  it("refuses --driver=etcd and --tunnel with what to do instead", async () => {
    const a = await fleetctl(["--driver=etcd", "list-units"]);
    expect(a.code).toBe(1);
    expect(a.err).toContain("talks only to the fleet API (--driver=API)");
    const b = await fleetctl(["--tunnel", "h:22", "list-units"]);
    expect(b.code).toBe(1);
    expect(b.err).toContain("--tunnel is not supported");
  });

  it("sends the bearer token from --token-file or FLEETCTL_TOKEN_FILE", async () => {
    const token = join(dir, "token");
    writeFileSync(token, "s3cret\n");
    const { url, seen } = await serve((req) =>
      req.headers.authorization === "Bearer s3cret"
        ? { status: 200, body: '{"machines":[{"id":"a","metadata":{},"primaryIP":"10.0.0.1"}]}' }
        : { status: 401, body: '{"error":{"code":401,"message":"missing or wrong bearer token"}}' },
    );
    const ok = await fleetctl(["list-machines", "--no-legend", "--full"], {
      FLEETCTL_ENDPOINT: url,
      FLEETCTL_TOKEN_FILE: token,
    });
    expect(ok).toEqual({ out: "a\t10.0.0.1\t-\n", err: "", code: 0 });
    const denied = await fleetctl(["--endpoint", url, "list-machines"]);
    expect(denied.code).toBe(1);
    expect(denied.err).toBe(
      "Error retrieving list of active machines from fleet API (googleapi: Error 401: missing or wrong bearer token)\n",
    );
    expect(seen.map((r) => r.headers.authorization)).toEqual(["Bearer s3cret", undefined]);
    const missing = await fleetctl([
      "--endpoint",
      url,
      "--token-file",
      join(dir, "none"),
      "list-units",
    ]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`cannot read token file ${join(dir, "none")}`);
  });

  it("a flag on the command line wins over FLEETCTL_ENDPOINT", async () => {
    const { url } = await serve(() => ({ status: 200, body: "{}" }));
    const r = await fleetctl(["--endpoint", url, "list-units"], {
      FLEETCTL_ENDPOINT: "unix:///nonexistent.sock",
    });
    expect(r).toEqual({ out: "UNIT\tMACHINE\tACTIVE\tSUB\n", err: "", code: 0 });
  });

  it("global flags may follow the command, as fleet's persistent flags could", async () => {
    const { url, seen } = await serve(() => ({ status: 200, body: "{}" }));
    expect(await fleetctl(["list-units", "--no-legend", `--endpoint=${url}`])).toEqual({
      out: "",
      err: "",
      code: 0,
    });
    // The one-read snapshot first; this server has no event stream, so the paged listing.
    expect(seen.map((r) => r.url)).toEqual([
      "/fleet/v1/events?snapshot=true&kinds=state,machine",
      "/fleet/v1/state",
    ]);
  });

  it("a malformed answer is an error naming the field, not a crash", async () => {
    const { url } = await serve(() => ({ status: 200, body: '{"units":[{"name":5}]}' }));
    const r = await fleetctl(["--endpoint", url, "list-unit-files"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^Error retrieving list of units from repository: the API's answer to \/fleet\/v1\/units is not what fleetctl expects: units\.0\.name: /,
    );
  });
});

describe("an error a command did not expect is one line and exit 1, never a stack trace", () => {
  /** Runs `thrower` as a command body through act(), as commander would. */
  async function runBody(thrower: () => never) {
    let err = "";
    let exit: number | undefined;
    const runner: Runner = {
      ctx: {
        io: {
          stdout: () => {},
          stderr: (s) => {
            err += s;
          },
          env: {},
          cwd: dir,
          isTTY: false,
        },
        pace: FLEET_PACE,
        api: () => {
          throw new Error("no API in this test");
        },
      },
      setExit: (code) => {
        exit = code;
      },
    };
    const action = act(runner, async () => thrower());
    await action(new Command("boom"));
    return { err, exit };
  }

  it("a TypeError (a bug in fleetctl) names itself", async () => {
    const r = await runBody(() => {
      throw new TypeError("cannot read properties of undefined (reading 'name')");
    });
    expect(r.exit).toBe(1);
    expect(r.err).toBe(
      "Error: fleetctl failed unexpectedly (TypeError: cannot read properties of undefined (reading 'name')); this is a bug in fleetctl, please report it\n",
    );
  });

  it("a thrown non-Error and a multi-line message stay on one line", async () => {
    const thrown = await runBody(() => {
      throw "a string";
    });
    expect(thrown).toEqual({
      exit: 1,
      err: "Error: fleetctl failed unexpectedly (a string); this is a bug in fleetctl, please report it\n",
    });
    const multi = await runBody(() => {
      throw new CliError("first\n  second");
    });
    expect(multi).toEqual({ exit: 1, err: "Error: first second\n" });
  });
});
