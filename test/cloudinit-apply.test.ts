/**
 * The applier against a real directory (`--root`): modes, owners (the test's own uid/gid, so it
 * needs no root), atomic replacement, idempotence, and refusals (symlinks in the way, a file
 * where a directory must be) that happen before anything is written.
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyPlan, preflight, readAccounts } from "../cloud-config/apply.js";
import { symlinkAtomic } from "../cloud-config/atomic-write.js";
import { parseUserData } from "../cloud-config/document.js";
import { CloudConfigInputError } from "../cloud-config/errors.js";
import { type Action, type Plan, planCloudConfig } from "../cloud-config/plan.js";
import { isInsideRoot } from "../cloud-config/preflight.js";
import { runStateSchema, STATE_PATH, writeRunState } from "../cloud-config/state-file.js";

let root: string;
let outside: string;
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "cloudinit-root-"));
  outside = mkdtempSync(path.join(tmpdir(), "cloudinit-outside-"));
  mkdirSync(path.join(root, "etc"));
  writeFileSync(path.join(root, "etc/passwd"), `me:x:${uid}:${gid}:me:/home/me:/bin/sh\n`);
  writeFileSync(path.join(root, "etc/group"), `mine:x:${gid}:\n`);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function plan(doc: string): Plan {
  const parsed = parseUserData(doc);
  expect(parsed.kind).toBe("cloud-config");
  return planCloudConfig(parsed.config, readAccounts(root));
}

const DOC = `#cloud-config
hostname: web1
write_files:
  - path: /etc/motd
    content: "hello\\n"
  - path: /opt/bin/run.sh
    permissions: '0750'
    owner: me:mine
    content: |
      #!/bin/sh
      echo run
  - path: /etc/secret
    permissions: '0600'
    encoding: b64
    content: c2VjcmV0
coreos:
  fleet:
    metadata: role=web
  units:
    - name: hello.service
      content: "[Service]\\nExecStart=/bin/true\\n"
      drop_ins:
        - name: 10-env.conf
          content: "[Service]\\nEnvironment=A=1\\n"
    - name: bad.service
      mask: true
`;

const mode = (p: string) => statSync(path.join(root, p)).mode & 0o7777;
const read = (p: string) => readFileSync(path.join(root, p), "utf8");

describe("applyPlan --root", () => {
  it("writes every file with its content, mode and owner", async () => {
    const oldMask = process.umask(0o077);
    try {
      await applyPlan(plan(DOC), { root });
    } finally {
      process.umask(oldMask);
    }
    expect(read("etc/hostname")).toBe("web1\n");
    expect(read("etc/motd")).toBe("hello\n");
    expect(mode("etc/motd")).toBe(0o644);
    expect(read("opt/bin/run.sh")).toBe("#!/bin/sh\necho run\n");
    expect(mode("opt/bin/run.sh")).toBe(0o750);
    expect(statSync(path.join(root, "opt/bin/run.sh")).uid).toBe(uid);
    expect(statSync(path.join(root, "opt/bin/run.sh")).gid).toBe(gid);
    expect(read("etc/secret")).toBe("secret");
    expect(mode("etc/secret")).toBe(0o600);
    expect(read("etc/systemd/system/hello.service")).toBe("[Service]\nExecStart=/bin/true\n");
    expect(read("etc/systemd/system/hello.service.d/10-env.conf")).toBe(
      "[Service]\nEnvironment=A=1\n",
    );
    expect(read("run/systemd/system/fleet.service.d/20-cloudinit.conf")).toBe(
      '[Service]\nEnvironment="FLEET_METADATA=role=web"\n',
    );
    expect(readlinkSync(path.join(root, "etc/systemd/system/bad.service"))).toBe("/dev/null");
  });

  it("a second run changes nothing and says so", async () => {
    const p = plan(DOC);
    const first = await applyPlan(p, { root });
    expect(first.persistentChanges).toBeGreaterThan(0);
    const before = statSync(path.join(root, "etc/motd"));
    const lines: string[] = [];
    const second = await applyPlan(p, { root, log: (l) => lines.push(l) });
    expect(second.summary).toBe("nothing to change");
    expect(second.results.every((r) => r.outcome !== "changed")).toBe(true);
    expect(lines.at(-1)).toBe("nothing to change");
    const after = statSync(path.join(root, "etc/motd"));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it("after a reboot (/run emptied) only the runtime files are redone", async () => {
    const p = plan(DOC);
    await applyPlan(p, { root });
    rmSync(path.join(root, "run"), { recursive: true });
    const again = await applyPlan(p, { root });
    expect(again.persistentChanges).toBe(0);
    expect(again.bootChanges).toBe(1);
    expect(again.summary).toMatch(/^nothing new to apply/);
    expect(read("run/systemd/system/fleet.service.d/20-cloudinit.conf")).toContain(
      "FLEET_METADATA",
    );
  });

  it("replaces a file atomically (new inode, no temporary file left) when its content or mode changed", async () => {
    await applyPlan(plan(DOC), { root });
    const before = statSync(path.join(root, "etc/motd")).ino;
    const r = await applyPlan(plan(DOC.replace('"hello\\n"', '"bye\\n"')), { root });
    expect(r.results.find((x) => x.action.startsWith("write /etc/motd"))?.outcome).toBe("changed");
    expect(read("etc/motd")).toBe("bye\n");
    expect(statSync(path.join(root, "etc/motd")).ino).not.toBe(before);
    expect(
      readdirSync(path.join(root, "etc")).filter((n) => n.includes("fleet-cloudinit")),
    ).toEqual([]);
    // Mode only.
    const r2 = await applyPlan(plan(DOC.replace("'0750'", "'0755'")), { root });
    expect(r2.results.find((x) => x.action.startsWith("write /opt/bin/run.sh"))?.outcome).toBe(
      "changed",
    );
    expect(mode("opt/bin/run.sh")).toBe(0o755);
  });

  it("refuses to write through a symlink, and writes nothing at all", async () => {
    writeFileSync(path.join(outside, "target"), "untouched");
    symlinkSync(path.join(outside, "target"), path.join(root, "etc/motd"));
    const p = plan(DOC);
    await expect(applyPlan(p, { root })).rejects.toThrow(CloudConfigInputError);
    await expect(applyPlan(p, { root })).rejects.toThrow(
      /write_files\[0\]: \/etc\/motd is a symbolic link/,
    );
    expect(readFileSync(path.join(outside, "target"), "utf8")).toBe("untouched");
    // The hostname comes first in the plan: it must not have been written either.
    expect(() => lstatSync(path.join(root, "etc/hostname"))).toThrow();
    expect(() => lstatSync(path.join(root, "opt"))).toThrow();
  });

  it("refuses a symlinked directory that leads out of the root", async () => {
    mkdirSync(path.join(outside, "bin"));
    symlinkSync(outside, path.join(root, "opt"));
    await expect(applyPlan(plan(DOC), { root })).rejects.toThrow(
      /\/opt is a symbolic link leading outside/,
    );
    expect(readdirSync(path.join(outside, "bin"))).toEqual([]);
  });

  it("follows a symlinked directory that stays inside the root", async () => {
    mkdirSync(path.join(root, "real-opt"));
    symlinkSync("real-opt", path.join(root, "opt"));
    await applyPlan(plan(DOC), { root });
    expect(readFileSync(path.join(root, "real-opt/bin/run.sh"), "utf8")).toContain("echo run");
  });

  it("a mask replaces an existing unit file with the /dev/null link in one rename, leaving no temporary link", async () => {
    const unit = path.join(root, "etc/systemd/system/bad.service");
    mkdirSync(path.dirname(unit), { recursive: true });
    writeFileSync(unit, "[Service]\nExecStart=/bin/false\n");
    await applyPlan(plan(DOC), { root });
    expect(readlinkSync(unit)).toBe("/dev/null");
    expect(readdirSync(path.dirname(unit)).filter((n) => n.includes("fleet-cloudinit"))).toEqual(
      [],
    );
  });

  it("a link replacement that cannot rename keeps what was there and removes its temporary link", () => {
    const dir = path.join(root, "etc/systemd/system");
    mkdirSync(path.join(dir, "busy.service"), { recursive: true });
    writeFileSync(path.join(dir, "busy.service/keep"), "k");
    expect(() => symlinkAtomic("/dev/null", path.join(dir, "busy.service"))).toThrow();
    expect(readFileSync(path.join(dir, "busy.service/keep"), "utf8")).toBe("k");
    expect(readdirSync(dir)).toEqual(["busy.service"]);
  });

  it("refuses a file where a directory must be", async () => {
    writeFileSync(path.join(root, "opt"), "a file");
    await expect(applyPlan(plan(DOC), { root })).rejects.toThrow(
      /\/opt exists and is not a directory/,
    );
    expect(() => lstatSync(path.join(root, "etc/motd"))).toThrow();
  });

  it("unmasks a runtime mask (a /dev/null link or an empty file) but not a real unit", async () => {
    const dir = path.join(root, "run/systemd/system");
    mkdirSync(dir, { recursive: true });
    symlinkSync("/dev/null", path.join(dir, "fleet.service"));
    writeFileSync(path.join(dir, "etcd2.service"), "[Service]\nExecStart=/bin/etcd\n");
    const r = await applyPlan(plan("#cloud-config\n"), { root });
    expect(() => lstatSync(path.join(dir, "fleet.service"))).toThrow();
    expect(readFileSync(path.join(dir, "etcd2.service"), "utf8")).toContain("ExecStart");
    expect(r.results.map((x) => x.outcome)).toEqual(["unchanged", "changed"]);
  });

  it("an unmask does not remove a mask through a /run that links out of the root", async () => {
    mkdirSync(path.join(outside, "systemd/system"), { recursive: true });
    symlinkSync("/dev/null", path.join(outside, "systemd/system/fleet.service"));
    symlinkSync(outside, path.join(root, "run"));
    await expect(applyPlan(plan("#cloud-config\n"), { root })).rejects.toThrow(
      /^unmask etcd2\.service if .*: \/run is a symbolic link leading outside/,
    );
    expect(readlinkSync(path.join(outside, "systemd/system/fleet.service"))).toBe("/dev/null");
  });

  it("a root that is not a directory is refused", async () => {
    await expect(
      applyPlan(plan("#cloud-config\n"), { root: path.join(root, "nope") }),
    ).rejects.toThrow(/^--root: .*nope is not an existing directory/);
  });

  it("systemd actions are reported as skipped when there is no systemd for the root", async () => {
    const r = await applyPlan(
      plan(
        "#cloud-config\ncoreos:\n  units:\n    - name: a.service\n      command: start\n      content: x\n",
      ),
      { root },
    );
    expect(r.results.filter((x) => x.outcome === "skipped").map((x) => x.action)).toEqual([
      "systemd daemon-reload",
      "start a.service",
    ]);
  });
});

describe("preflight with / as the root", () => {
  const writeFile = (p: string): Action => ({
    type: "write_file",
    path: p,
    content: Buffer.from("x"),
    mode: 0o644,
    owner: undefined,
    field: "write_files[0]",
  });
  const only = (a: Action): Plan => ({ actions: [a], ignored: [] });

  it("accepts a path through symlinked directories (as /var/run -> /run, merged-usr /lib)", () => {
    // The temp directory stands for /run and /usr: reached from "/" by absolute paths.
    mkdirSync(path.join(outside, "run"));
    mkdirSync(path.join(outside, "usr/lib"), { recursive: true });
    mkdirSync(path.join(outside, "var"));
    symlinkSync(path.join(outside, "run"), path.join(outside, "var/run"));
    symlinkSync("usr/lib", path.join(outside, "lib"));
    expect(() => preflight(only(writeFile(`${outside}/var/run/x.conf`)), "/")).not.toThrow();
    expect(() => preflight(only(writeFile(`${outside}/lib/y.conf`)), "/")).not.toThrow();
    // A preflight writes nothing.
    expect(readdirSync(path.join(outside, "run"))).toEqual([]);
    expect(readdirSync(path.join(outside, "usr/lib"))).toEqual([]);
  });

  it("still refuses a symlink as the file itself under /", () => {
    writeFileSync(path.join(outside, "target"), "untouched");
    symlinkSync(path.join(outside, "target"), path.join(outside, "motd"));
    expect(() => preflight(only(writeFile(`${outside}/motd`)), "/")).toThrow(
      /write_files\[0\]: .*\/motd is a symbolic link \(to /,
    );
  });

  it("inside-the-root is a path prefix, not a string prefix", () => {
    expect(isInsideRoot("/", "/run")).toBe(true);
    expect(isInsideRoot("/", "/")).toBe(true);
    expect(isInsideRoot("/srv/img", "/srv/img")).toBe(true);
    expect(isInsideRoot("/srv/img", "/srv/img/etc")).toBe(true);
    expect(isInsideRoot("/srv/img", "/srv/img2/etc")).toBe(false);
    expect(isInsideRoot("/srv/img", "/srv")).toBe(false);
  });
});

describe("the state file", () => {
  const state = async () => applyPlan(plan("#cloud-config\nhostname: a\n"), { root });

  it("is written atomically with what the run did", async () => {
    writeRunState(root, "#cloud-config\nhostname: a\n", await state());
    const full = path.join(root, STATE_PATH);
    const parsed = runStateSchema.parse(JSON.parse(readFileSync(full, "utf8")));
    expect(parsed.persistentChanges).toBe(1);
    expect(statSync(full).mode & 0o7777).toBe(0o644);
    expect(readdirSync(path.dirname(full))).toEqual(["state.json"]);
  });

  it("is refused before the apply when a link in a --root image leads out to the host", async () => {
    symlinkSync(outside, path.join(root, "var"));
    const p = plan("#cloud-config\nhostname: a\n");
    await expect(
      applyPlan(p, { root, alsoWrites: [{ path: STATE_PATH, where: "state file" }] }),
    ).rejects.toThrow(/^state file: \/var is a symbolic link leading outside/);
    expect(() => lstatSync(path.join(root, "etc/hostname"))).toThrow();
    // And writing it directly is refused too.
    const result = { results: [], persistentChanges: 0, bootChanges: 0, summary: "s" };
    expect(() => writeRunState(root, "", result)).toThrow(
      /\/var is a symbolic link leading outside/,
    );
    expect(readdirSync(outside)).toEqual([]);
  });
});
