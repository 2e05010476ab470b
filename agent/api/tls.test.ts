/**
 * The API's TCP listeners over TLS: a client CA lets in only the clients it signed, a token
 * still guards an HTTPS listener, half a TLS configuration stops fleetd with a message naming
 * the options. Certificates are made by openssl for each run (Debian's openssl; setup installs it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import { advertisedApiUrl, apiTls, FleetdError } from "../fleetd.js";
import { ListenError, type Listener, listen } from "./server.js";

let dir: string;
const file = (name: string) => join(dir, name);
const read = (name: string) => readFileSync(file(name));

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A self-signed CA. */
function makeCa(ca: string): void {
  openssl(
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "2", "-subj", `/CN=${ca}`],
  );
}

/** A certificate `ca` signs for `name` (a server's names 127.0.0.1 as its address). */
function makeCert(ca: string, name: string, server: boolean): void {
  openssl(
    ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`],
  );
  writeFileSync(file(`${name}.ext`), server ? "subjectAltName=IP:127.0.0.1\n" : "\n");
  openssl(
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`],
    ...["-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`],
  );
}

type Outcome = { status: number } | { error: string };

function get(
  port: number,
  opts: { cert?: string; token?: string; ca?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/fleet/v1/units",
        ca: read(opts.ca ?? "ca.pem"),
        ...(opts.cert === undefined
          ? {}
          : { cert: read(`${opts.cert}.pem`), key: read(`${opts.cert}.key`) }),
        headers: opts.token === undefined ? {} : { Authorization: `Bearer ${opts.token}` },
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      },
    );
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

const ok = (_req: unknown, res: { writeHead(s: number): void; end(b: string): void }) => {
  res.writeHead(200);
  res.end("{}");
};

const listeners: Listener[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-api-tls-"));
  makeCa("ca");
  makeCa("rogue");
  makeCert("ca", "server", true);
  makeCert("ca", "client", false);
  makeCert("rogue", "intruder", false);
}, 60_000);

afterAll(async () => {
  for (const l of listeners) await l.close();
  rmSync(dir, { recursive: true, force: true });
});

/** listen() on a free port (a Listener does not say which port tcp://host:0 got). */
async function serveOnFreePort(opts: Parameters<typeof listen>[2]): Promise<number> {
  for (let port = 20000 + Math.floor(Math.random() * 20000); ; port++) {
    try {
      listeners.push(await listen(`tcp://127.0.0.1:${port}`, ok, opts));
      return port;
    } catch (err) {
      if (!String(err).includes("EADDRINUSE")) throw err;
    }
  }
}

describe("the API over TLS", () => {
  it("with a client CA, lets in the clients it signed and no one else", async () => {
    const port = await serveOnFreePort({
      tls: { cert: read("server.pem"), key: read("server.key"), clientCa: read("ca.pem") },
    });
    expect(await get(port, { cert: "client" })).toEqual({ status: 200 });
    expect(await get(port)).toHaveProperty("error");
    expect(await get(port, { cert: "intruder" })).toHaveProperty("error");
  });

  it("with a token and no client CA, still asks for the token", async () => {
    const port = await serveOnFreePort({
      token: "s3cret",
      tls: { cert: read("server.pem"), key: read("server.key") },
    });
    expect(await get(port, { token: "s3cret" })).toEqual({ status: 200 });
    expect(await get(port)).toEqual({ status: 401 });
    // The client checks the server too: a CA that did not sign it is refused.
    expect(await get(port, { token: "s3cret", ca: "rogue.pem" })).toHaveProperty("error");
  });

  it("refuses TLS without a token or a client CA, unless insecure", async () => {
    const tls = { cert: read("server.pem"), key: read("server.key") };
    const attempt = listen("tcp://127.0.0.1:0", ok, { tls });
    await expect(attempt).rejects.toThrow(ListenError);
    await expect(attempt).rejects.toThrow(/api_token_file or api_tls_client_ca/);
    const insecure = await serveOnFreePort({ tls, insecureTcp: true });
    expect(await get(insecure)).toEqual({ status: 200 });
  });
});

describe("fleetd's TLS options", () => {
  const config = (flags: Record<string, string>) =>
    loadConfig({ env: {}, flags, file: file("empty.conf") }).config;
  beforeAll(() => writeFileSync(file("empty.conf"), ""));

  it("reads the certificate, key and client CA", () => {
    const tls = apiTls(
      config({
        api_tls_cert: file("server.pem"),
        api_tls_key: file("server.key"),
        api_tls_client_ca: file("ca.pem"),
      }),
    );
    expect(tls?.cert.toString()).toContain("BEGIN CERTIFICATE");
    expect(tls?.clientCa?.toString()).toContain("BEGIN CERTIFICATE");
    expect(apiTls(config({}))).toBeUndefined();
  });

  it("refuses half a configuration, naming the options", () => {
    expect(() => apiTls(config({ api_tls_cert: file("server.pem") }))).toThrow(
      /api_tls_cert and api_tls_key go together/,
    );
    expect(() => apiTls(config({ api_tls_client_ca: file("ca.pem") }))).toThrow(
      /api_tls_client_ca needs api_tls_cert and api_tls_key/,
    );
  });

  it("names a file it cannot read", () => {
    const missing = file("nope.pem");
    expect(() =>
      apiTls(config({ api_tls_cert: missing, api_tls_key: file("server.key") })),
    ).toThrow(FleetdError);
    expect(() =>
      apiTls(config({ api_tls_cert: missing, api_tls_key: file("server.key") })),
    ).toThrow(`cannot read api_tls_cert ${missing}`);
  });

  it("advertises https to the other fleetds when the API speaks TLS", () => {
    expect(advertisedApiUrl(["tcp://10.0.0.5:49153"], "", true)).toBe("https://10.0.0.5:49153");
    expect(advertisedApiUrl(["tcp://10.0.0.5:49153"], "")).toBe("http://10.0.0.5:49153");
  });
});
