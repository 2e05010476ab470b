/**
 * Sockets systemd hands over (fleet.socket), through systemd's own socket activation tool: a
 * TCP socket — fleet's documented remote API was a `ListenStream=<port>` in fleet.socket — is
 * served only with the bearer token, or with api_insecure_tcp said explicitly, never freely.
 * Needs /usr/bin/systemd-socket-activate (Debian's systemd package; setup installs it), not root.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../test/harness/ports.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
let child: ChildProcess | undefined;
let out = "";

afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    const gone = new Promise((r) => child?.once("exit", r));
    child.kill("SIGTERM");
    await gone;
  }
  child = undefined;
});

/** systemd-socket-activate listening on a port, starting serve-fd.ts at the first connection. */
async function activate(env: Record<string, string>): Promise<number> {
  const port = await freePort();
  out = "";
  const envArgs = Object.entries(env).flatMap(([k, v]) => ["-E", `${k}=${v}`]);
  child = spawn(
    "/usr/bin/systemd-socket-activate",
    // tsx's loader in this process (its CLI would run a child, and fd 3 would not reach it).
    [
      ...["-l", `127.0.0.1:${port}`, ...envArgs, process.execPath],
      ...["--import", "tsx", join(HERE, "testdata", "serve-fd.ts")],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  child.stdout?.on("data", (d) => {
    out += d;
  });
  // It binds before it spawns anything: wait until the port answers a connect.
  await expect.poll(() => connects(port), { timeout: 10_000 }).toBe(true);
  return port;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(true)); // in use: systemd-socket-activate holds it
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
  });
}

function get(port: number, token?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/fleet/v1/units",
        headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
        timeout: 20_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", (err) => resolve(err.message));
    req.end();
  });
}

describe("a TCP socket handed over by systemd", () => {
  it("without a token is refused, saying what to set", async () => {
    const port = await activate({});
    expect(typeof (await get(port))).toBe("string"); // the connection is dropped, no answer
    await expect.poll(() => out, { timeout: 20_000 }).toMatch(/^refused: .*api_token_file/m);
  }, 30_000);

  it("with a token asks for it", async () => {
    const port = await activate({ TOKEN: "t0k" });
    expect(await get(port)).toBe(401);
    expect(await get(port, "t0k")).toBe(200);
  }, 30_000);

  it("with api_insecure_tcp serves anyone, as asked", async () => {
    const port = await activate({ INSECURE: "1" });
    expect(await get(port)).toBe(200);
  }, 30_000);
});
