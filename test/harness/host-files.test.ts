/**
 * @module test/harness/host-files.test
 * Paths inside a host are resolved as the host sees them: an absolute symlink never escapes
 * to the machine's file of that name.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertMachineId,
  baseHostFiles,
  newMachineId,
  resolveInRoot,
  writeIntoRoot,
} from "./host-files.js";

const root = mkdtempSync(path.join(os.tmpdir(), "fts-host-files-"));
mkdirSync(path.join(root, "run"));
mkdirSync(path.join(root, "var"));
symlinkSync("/run", path.join(root, "var/run")); // absolute, as on Debian
symlinkSync("../run/target", path.join(root, "var/rel"));
symlinkSync("loop-b", path.join(root, "loop-a"));
symlinkSync("loop-a", path.join(root, "loop-b"));

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("host files", () => {
  it("resolves absolute and relative links inside the root, and never climbs above it", () => {
    expect(resolveInRoot(root, "/var/run/x")).toBe(path.join(root, "run/x"));
    expect(resolveInRoot(root, "/var/rel")).toBe(path.join(root, "run/target"));
    expect(resolveInRoot(root, "/../../etc/passwd")).toBe(path.join(root, "etc/passwd"));
    expect(resolveInRoot(root, "/var/run", false)).toBe(path.join(root, "var/run"));
    expect(() => resolveInRoot(root, "/loop-a/x")).toThrow(/too many levels/);
  });

  it("writes through the host's links with the requested mode, creating parents", () => {
    writeIntoRoot(root, "/var/run/sub/f", { content: "hi", mode: 0o600 });
    const file = path.join(root, "run/sub/f");
    expect(readFileSync(file, "utf8")).toBe("hi");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(() => writeIntoRoot(root, "relative", "x")).toThrow(/must be absolute/);
  });

  it("creates or replaces a symbolic link without following the one already there", () => {
    writeIntoRoot(root, "/etc/link", { symlink: "/run/sub/f" });
    expect(readlinkSync(path.join(root, "etc/link"))).toBe("/run/sub/f");
    writeIntoRoot(root, "/var/run", { symlink: "/elsewhere" });
    expect(readlinkSync(path.join(root, "var/run"))).toBe("/elsewhere");
    expect(readFileSync(path.join(root, "run/sub/f"), "utf8")).toBe("hi");
  });

  it("makes distinct machine-ids of 32 lowercase hex digits and rejects others", () => {
    const a = newMachineId();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newMachineId()).not.toBe(a);
    expect(() => assertMachineId("ABCDEF0123456789ABCDEF0123456789", "host 0")).toThrow(
      /host 0: machine-id .* 32 lowercase hex/,
    );
  });

  it("masks etcd and the image's other enabled services, plus the caller's, and rejects non-units", () => {
    const { masks, files } = baseHostFiles({
      name: "h0",
      machineId: "0".repeat(32),
      extraMasks: ["cron.service"],
    });
    for (const unit of ["etcd.service", "postgresql.service", "getty@.service", "cron.service"]) {
      expect(masks).toContain(unit);
    }
    expect(files["/etc/machine-id"]).toBe(`${"0".repeat(32)}\n`);
    expect(() =>
      baseHostFiles({ name: "h0", machineId: "0".repeat(32), extraMasks: ["../x"] }),
    ).toThrow(/not a unit name/);
  });
});
