/**
 * The fleet-cloudinit command: sources (file, stdin, an HTTP GET on loopback), --validate with
 * file:line output and exit codes, --dry-run, --root, and refusals that change nothing.
 */
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const MAIN = path.join(REPO, "cloud-config/main.ts");
let dir: string;
let server: Server;
let url: string;

function cli(args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", MAIN, ...args],
      { cwd: REPO, timeout: 60_000 },
      (error, out, err) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err });
      },
    );
    child.stdin?.end(input ?? "");
  });
}

const GOOD = `#cloud-config
hostname: web1
write_files:
  - path: /etc/motd
    content: hi
coreos:
  fleet:
    public_ip: $private_ipv4
    metadata: role=web
`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cloudinit-cli-"));
  writeFileSync(path.join(dir, "good.yml"), GOOD);
  writeFileSync(
    path.join(dir, "bad.yml"),
    "#cloud-config\ncoreos:\n  units:\n    - name: x.service\n      command: bounce\nwrite_files:\n  - path: /etc/a\n    content: a\n",
  );
  writeFileSync(path.join(dir, "warn.yml"), "#cloud-config\nhostname: a\nfrobnicate: 1\n");
  server = createServer((req, res) => {
    if (req.url === "/user-data") {
      res.end(GOOD);
    } else {
      res.statusCode = 404;
      res.end("no");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function freshRoot(): string {
  const root = mkdtempSync(path.join(dir, "root-"));
  mkdirSync(path.join(root, "etc"));
  writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(path.join(root, "etc/group"), "root:x:0:\n");
  return root;
}

describe("fleet-cloudinit", () => {
  it("--validate: a clean document exits 0 and prints nothing", async () => {
    const r = await cli(["--validate", "--from-file", path.join(dir, "good.yml")]);
    expect(r).toMatchObject({ code: 0, err: "" });
  });

  it("--validate: errors exit 1, each with the file and its line", async () => {
    const file = path.join(dir, "bad.yml");
    const r = await cli(["--validate", "--from-file", file]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${file}:5: error: invalid value bounce\n`);
  });

  it("--validate: warnings alone exit 0, or 1 with --strict", async () => {
    const file = path.join(dir, "warn.yml");
    const r = await cli(["--validate", "--from-file", file]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`${file}:3: warning: unrecognized key "frobnicate"\n`);
    expect((await cli(["--validate", "--strict", "--from-file", file])).code).toBe(1);
  });

  it("reads stdin with --from-file - and when no source is given", async () => {
    const a = await cli(["--validate", "--from-file", "-"], "#cloud-config\nbogus: 1\n");
    expect(a.err).toBe('stdin:2: warning: unrecognized key "bogus"\n');
    const b = await cli(["--validate"], "not a cloud config\n");
    expect(b.code).toBe(1);
    expect(b.err).toBe('stdin:1: error: must be "#cloud-config" or begin with "#!"\n');
  });

  it("--dry-run prints the plan, with $private_ipv4 substituted, and writes nothing", async () => {
    const root = freshRoot();
    const r = await cli([
      "--dry-run",
      "--root",
      root,
      "--private-ipv4",
      "10.1.2.3",
      "--from-file",
      path.join(dir, "good.yml"),
    ]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("1. set hostname web1");
    expect(r.out).toContain("2. write /etc/motd (2 bytes, mode 0644)");
    expect(r.out).toContain("write drop-in /run/systemd/system/fleet.service.d/20-cloudinit.conf");
    expect(existsSync(path.join(root, "etc/motd"))).toBe(false);
    expect(existsSync(path.join(root, "run"))).toBe(false);
  });

  it("--from-url applies a document fetched over HTTP into --root, then finds nothing to change", async () => {
    const root = freshRoot();
    const r = await cli([
      "--root",
      root,
      "--private-ipv4",
      "10.1.2.3",
      "--from-url",
      `${url}/user-data`,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(root, "etc/motd"), "utf8")).toBe("hi");
    expect(
      readFileSync(path.join(root, "run/systemd/system/fleet.service.d/20-cloudinit.conf"), "utf8"),
    ).toBe(
      '[Service]\nEnvironment="FLEET_METADATA=role=web"\nEnvironment="FLEET_PUBLIC_IP=10.1.2.3"\n',
    );
    const state = JSON.parse(
      readFileSync(path.join(root, "var/lib/fleet-cloudinit/state.json"), "utf8"),
    ) as {
      persistentChanges: number;
      bootChanges: number;
    };
    // /etc/hostname and /etc/motd; the drop-in under /run is redone at every boot.
    expect(state.persistentChanges).toBe(2);
    expect(state.bootChanges).toBe(1);
    const again = await cli([
      "--root",
      root,
      "--private-ipv4",
      "10.1.2.3",
      "--from-url",
      `${url}/user-data`,
    ]);
    expect(again.out.trim().split("\n").at(-1)).toBe("nothing to change");
  });

  it("an HTTP error is a clear failure", async () => {
    const r = await cli(["--dry-run", "--from-url", `${url}/missing`]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("HTTP 404");
  });

  it("a document with errors is refused and changes nothing", async () => {
    const root = freshRoot();
    const r = await cli(["--root", root, "--from-file", path.join(dir, "bad.yml")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("refusing to apply: 1 error(s) above; nothing was changed");
    expect(existsSync(path.join(root, "etc/a"))).toBe(false);
  });

  it("a planner refusal names the field and changes nothing", async () => {
    const root = freshRoot();
    const file = path.join(dir, "owner.yml");
    writeFileSync(
      file,
      "#cloud-config\nhostname: a\nwrite_files:\n  - path: /etc/x\n    owner: ghost\n",
    );
    const r = await cli(["--root", root, "--from-file", file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}:5: write_files[0].owner: owner "ghost": no user "ghost"`);
    expect(existsSync(path.join(root, "etc/hostname"))).toBe(false);
  });

  it("a --root whose /var links out to the host is refused before anything is written (the state file is checked too)", async () => {
    const root = freshRoot();
    const host = mkdtempSync(path.join(dir, "host-"));
    symlinkSync(host, path.join(root, "var"));
    const r = await cli(["--root", root, "--from-file", path.join(dir, "good.yml")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `state file /var/lib/fleet-cloudinit/state.json: /var is a symbolic link leading outside ${root}`,
    );
    expect(existsSync(path.join(root, "etc/hostname"))).toBe(false);
    expect(readdirSync(host)).toEqual([]);
  });

  it("usage errors exit 2; a missing file exits 1 naming it", async () => {
    expect((await cli(["--from-file", "a", "--from-url", "http://127.0.0.1:1/"])).code).toBe(2);
    expect((await cli(["--no-such-flag"])).code).toBe(2);
    const ip = await cli([
      "--dry-run",
      "--private-ipv4",
      "10.0.0.300",
      "--from-file",
      path.join(dir, "good.yml"),
    ]);
    expect(ip.code).toBe(2);
    expect(ip.err).toMatch(/^fleet-cloudinit: --private-ipv4: /);
    const r = await cli(["--from-file", path.join(dir, "nope.yml")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot read user data from ${path.join(dir, "nope.yml")}`);
  });

  it("a script is not run", async () => {
    const r = await cli(["--from-file", "-"], "#!/bin/sh\necho hi\n");
    expect(r.code).toBe(1);
    expect(r.err).toContain("runs no scripts");
  });
});
