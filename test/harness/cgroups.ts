/**
 * @module test/harness/cgroups
 * Each host gets a cgroup subtree of its own in every hierarchy (cgroups v1 hybrid here):
 * `<our cgroup>/fleet-ts-hosts/<run id>/<host>`. Without it every host's systemd would manage
 * the same `system.slice/<unit>` cgroups and same-named units would collide across hosts.
 * The subtree also names the harness's processes without trusting PIDs: anything in it was
 * started by this run, so cleanup can sweep it.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { type MountEntry, readMounts } from "./mounts.js";

/** The directory under which every run puts its cgroup subtree, in every hierarchy. */
export const CGROUP_TREE_NAME = "fleet-ts-hosts";

/** Options of a cgroup v1 mount that are not controller names. */
const GENERIC_MOUNT_OPTIONS = new Set(["rw", "ro", "clone_children", "noprefix", "xattr"]);

interface OwnCgroup {
  /** The line's controller list ("" for the v2 hierarchy). */
  readonly controllers: string;
  readonly path: string;
}

/** Parses /proc/<pid>/cgroup: "id:controllers:path" per hierarchy. */
export function parseProcCgroup(text: string): OwnCgroup[] {
  const out: OwnCgroup[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.push({ controllers: m[1], path: m[2] });
  }
  return out;
}

function mountFor(own: OwnCgroup, mounts: readonly MountEntry[]): MountEntry | undefined {
  if (own.controllers === "") return mounts.find((m) => m.fsType === "cgroup2");
  const wanted = own.controllers.split(",");
  return mounts.find((m) => {
    if (m.fsType !== "cgroup") return false;
    const opts = new Set(m.superOptions.split(",").filter((o) => !GENERIC_MOUNT_OPTIONS.has(o)));
    return wanted.every((c) => opts.has(c));
  });
}

/**
 * Where this run's subtree goes in each mounted hierarchy: under the caller's own cgroup
 * (so the machine's accounting of the caller still covers its hosts), never nested inside
 * another run's tree (a harness driven from inside a host starts at that tree's parent).
 */
export function planRunCgroupDirs(
  runId: string,
  ownCgroups: readonly OwnCgroup[],
  mounts: readonly MountEntry[],
): string[] {
  const dirs: string[] = [];
  for (const own of ownCgroups) {
    const mount = mountFor(own, mounts);
    if (!mount) continue;
    let rel = own.path;
    if (mount.root !== "/") {
      if (!rel.startsWith(mount.root)) continue; // our cgroup is not visible through this mount
      rel = rel.slice(mount.root.length);
    }
    const nested = rel.indexOf(`/${CGROUP_TREE_NAME}/`);
    if (nested >= 0) rel = rel.slice(0, nested);
    const dir = path.join(mount.mountPoint, rel, CGROUP_TREE_NAME, runId);
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

export function planRunCgroupDirsHere(runId: string): string[] {
  return planRunCgroupDirs(
    runId,
    parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8")),
    readMounts(),
  );
}

/**
 * Creates `dir` and any missing parents. A new v1 cpuset cgroup accepts no process until its
 * cpuset.cpus and cpuset.mems are filled, so each new level inherits its parent's.
 */
export function makeCgroupDir(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d);
    const parent = path.dirname(d);
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(path.join(parent, f))) {
        writeFileSync(path.join(d, f), readFileSync(path.join(parent, f), "utf8"));
      }
    }
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return []; // already removed
  }
}

/** PIDs (as the machine sees them) of every process in `dir` and its descendants. */
export function processesInTree(dir: string): number[] {
  const pids = new Set<number>();
  const walk = (d: string) => {
    try {
      for (const line of readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n")) {
        const pid = Number(line);
        if (Number.isInteger(pid) && pid > 0) pids.add(pid);
      }
    } catch {
      return; // removed while we walked
    }
    for (const s of subdirs(d)) walk(s);
  };
  walk(dir);
  return [...pids];
}

/** True if `pid` currently sits in `dir` or below it in that hierarchy (checked before a kill). */
export function isProcessInTree(pid: number, dir: string, mountPoint: string): boolean {
  const rel = dir.slice(mountPoint.length) || "/";
  try {
    return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, "utf8")).some(
      (c) => c.path === rel || c.path.startsWith(`${rel}/`),
    );
  } catch {
    return false;
  }
}

/** The mount point of the hierarchy that holds `dir`. */
export function hierarchyOf(dir: string, mounts: readonly MountEntry[] = readMounts()): string {
  const candidates = mounts
    .filter((m) => m.fsType === "cgroup" || m.fsType === "cgroup2")
    .filter((m) => dir === m.mountPoint || dir.startsWith(`${m.mountPoint}/`))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  return candidates[0]?.mountPoint ?? "/";
}

/**
 * Removes `dir` and everything below it, deepest first (cgroup directories are removed with
 * rmdir; their files are virtual). With `keepTop` the top directory itself stays.
 * Returns the directories that could not be removed (still holding processes).
 */
export function removeCgroupTree(dir: string, keepTop = false): string[] {
  const failed: string[] = [];
  const walk = (d: string, isTop: boolean) => {
    for (const s of subdirs(d)) walk(s, false);
    if (isTop && keepTop) return;
    try {
      rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") failed.push(d);
    }
  };
  walk(dir, true);
  return failed;
}

/** Removes `dir`'s parent if it is now empty (the shared `fleet-ts-hosts` level). */
export function removeIfEmpty(dir: string): void {
  try {
    if (subdirs(dir).length === 0) rmdirSync(dir);
  } catch {
    // Another run still uses it (EBUSY/ENOTEMPTY) or it is already gone: both are fine.
  }
}
