/**
 * @module test/harness/host-files
 * What makes a host different from the machine it overlays: its machine-id and hostname,
 * the units it must not run (masks), a few manager settings, and the caller's own files.
 * Before boot they go into the overlay's upper dir; into a running host they go through
 * /proc/<pid>/root. Both resolve symlinks the way the host would (an absolute link inside the
 * host points into the host, never to the machine's own file of that name).
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";

/**
 * Units of this Debian image that must not run inside test hosts: etcd (Debian's etcd-server
 * is enabled on install and would bind the shared loopback ports in every host), postgresql
 * (slow), gettys and the console (they would touch the machine's terminals), timesyncd (the
 * machine's clock), kernel-facing units (modules, binfmt, debug/trace/config file systems,
 * pstore, random seed), network management (networkd, resolved: the harness owns the network),
 * logind (nothing here needs sessions; saves a daemon per host), and the periodic maintenance
 * timers (apt, man-db, e2scrub, fstrim, dpkg backup) that would fire mid-test.
 */
export const DEFAULT_MASKS: readonly string[] = [
  "etcd.service",
  "etcd2.service",
  "postgresql.service",
  "postgresql@.service",
  "getty@.service",
  "getty-static.service",
  "getty.target",
  "console-getty.service",
  "container-getty@.service",
  "serial-getty@.service",
  "systemd-timesyncd.service",
  "systemd-pstore.service",
  "systemd-random-seed.service",
  "systemd-modules-load.service",
  "modprobe@.service",
  "kmod-static-nodes.service",
  "systemd-binfmt.service",
  "proc-sys-fs-binfmt_misc.automount",
  "proc-sys-fs-binfmt_misc.mount",
  "sys-kernel-config.mount",
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  "sys-fs-fuse-connections.mount",
  "dev-hugepages.mount",
  "systemd-networkd.service",
  "systemd-networkd.socket",
  "systemd-networkd-wait-online.service",
  "systemd-resolved.service",
  "systemd-logind.service",
  "e2scrub_reap.service",
  "e2scrub_all.service",
  "e2scrub_all.timer",
  "apt-daily.service",
  "apt-daily.timer",
  "apt-daily-upgrade.service",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.service",
  "dpkg-db-backup.timer",
  "man-db.service",
  "man-db.timer",
  "fstrim.service",
  "fstrim.timer",
];

/**
 * A file for a host: its text/bytes, those with a mode (default 0644), or a symbolic link
 * (e.g. enabling a unit: `/etc/systemd/system/multi-user.target.wants/x.service` →
 * `{ symlink: "/etc/systemd/system/x.service" }`).
 */
export type HostFileContent =
  | string
  | Buffer
  | { content: string | Buffer; mode?: number }
  | { symlink: string };
/** Absolute paths inside the host → content. */
export type HostFiles = Record<string, HostFileContent>;

const MACHINE_ID = /^[0-9a-f]{32}$/;

/** A machine-id as systemd writes them: 128 random bits, 32 lowercase hex digits. */
export function newMachineId(): string {
  return randomBytes(16).toString("hex");
}

export function assertMachineId(id: string, where: string): void {
  if (!MACHINE_ID.test(id)) {
    throw new TypeError(
      `${where}: machine-id ${JSON.stringify(id)} is not 32 lowercase hex digits (like \`systemd-id128 new\` prints)`,
    );
  }
}

const UNIT_NAME =
  /^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|target|mount|automount|path|slice|scope|swap|device)$/;

/** The files every host starts with (paths relative to the host's root). */
export function baseHostFiles(opts: {
  name: string;
  machineId: string;
  extraMasks: readonly string[];
}): { files: Record<string, string>; masks: string[] } {
  const masks = [...new Set([...DEFAULT_MASKS, ...opts.extraMasks])];
  for (const m of masks) {
    if (!UNIT_NAME.test(m)) {
      throw new TypeError(`mask ${JSON.stringify(m)} is not a unit name (e.g. "foo.service")`);
    }
  }
  return {
    masks,
    files: {
      "/etc/machine-id": `${opts.machineId}\n`,
      "/etc/hostname": `${opts.name}\n`,
      // A stuck unit must not hold a test for systemd's default 90 s.
      "/etc/systemd/system.conf.d/fleet-ts-harness.conf":
        "[Manager]\nDefaultTimeoutStartSec=30s\nDefaultTimeoutStopSec=10s\n",
      // Journal in /run only: nothing to flush to disk at boot, nothing left in the upper dir.
      "/etc/systemd/journald.conf.d/fleet-ts-harness.conf":
        "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n",
    },
  };
}

const MAX_SYMLINKS = 40;

/**
 * Resolves `p` (absolute, as seen inside a host) to a path under `root`, following symlinks as
 * the host would: an absolute link target restarts at `root`, `..` never climbs above it.
 * Missing components are kept as they are (they are about to be created). With
 * `followLast: false` the last component is not followed (to replace a link itself).
 */
export function resolveInRoot(root: string, p: string, followLast = true): string {
  const pending = p.split("/").filter((c) => c !== "" && c !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === "..") {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, c);
    const isLast = pending.length === 0;
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      isLink = false; // does not exist yet
    }
    if (isLink && (followLast || !isLast)) {
      links += 1;
      if (links > MAX_SYMLINKS) throw new Error(`too many levels of symbolic links in ${p}`);
      const target = readlinkSync(candidate);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...target.split("/").filter((x) => x !== "" && x !== "."));
      continue;
    }
    resolved.push(c);
  }
  return path.join(root, ...resolved);
}

/**
 * Creates the missing directories of `dirInRoot` (a path relative to `root`), giving each new
 * one the mode and owner of the same directory in `template` when it exists there: in an
 * overlay upper dir, a directory's attributes hide those of the lower one.
 */
function mkdirsLike(root: string, dirInRoot: string, template: string | undefined): void {
  const parts = dirInRoot.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join("/");
    const dir = path.join(root, rel);
    try {
      lstatSync(dir);
      continue;
    } catch {
      mkdirSync(dir, { mode: 0o755 });
    }
    if (template === undefined) continue;
    try {
      const st = statSync(path.join(template, rel));
      chmodSync(dir, st.mode & 0o7777);
      chownSync(dir, st.uid, st.gid);
    } catch {
      // Not in the template either: a new directory, 0755 root is right.
    }
  }
}

function contentOf(c: Exclude<HostFileContent, { symlink: string }>): {
  data: string | Buffer;
  mode: number;
} {
  if (typeof c === "string" || Buffer.isBuffer(c)) return { data: c, mode: 0o644 };
  return { data: c.content, mode: c.mode ?? 0o644 };
}

/**
 * Writes a file at host path `p` into `root` (a live host's /proc/<pid>/root, or an upper dir
 * with `lookupRoot` = "/" so that symlinks are resolved as in the lower layer).
 */
export function writeIntoRoot(
  root: string,
  p: string,
  content: HostFileContent,
  lookupRoot: string = root,
  dirTemplate?: string,
): void {
  if (!p.startsWith("/"))
    throw new TypeError(`host file path ${JSON.stringify(p)} must be absolute`);
  const isLink = typeof content === "object" && "symlink" in content;
  // A link replaces whatever is at its path; a file is written through an existing link.
  const resolved = resolveInRoot(lookupRoot, p, !isLink);
  const rel = path.relative(lookupRoot, resolved);
  mkdirsLike(root, path.dirname(rel), dirTemplate);
  const target = path.join(root, rel);
  if (isLink) {
    rmSync(target, { force: true });
    symlinkSync(content.symlink, target);
    return;
  }
  const { data, mode } = contentOf(content);
  writeFileSync(target, data, { mode });
  chmodSync(target, mode); // writeFileSync's mode is ignored for an existing file and masked by umask
}

/** Masks `unit` in an upper dir: /etc/systemd/system/<unit> → /dev/null (replacing a link there). */
export function maskInUpper(upper: string, unit: string): void {
  writeIntoRoot(upper, `/etc/systemd/system/${unit}`, { symlink: "/dev/null" }, "/", "/");
}
