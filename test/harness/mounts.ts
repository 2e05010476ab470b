/**
 * @module test/harness/mounts
 * The harness's mounts in the machine's own mount namespace: one tmpfs per run that holds
 * the hosts' overlay upper layers (overlayfs refuses an upper dir inside its lower `/` on the
 * same file system). Everything else a host mounts lives in the host's private mount namespace
 * and vanishes with it. Cleanup reads /proc/self/mountinfo rather than trusting what we
 * think we mounted, and never deletes a directory that still has something mounted below it.
 */
import { readFileSync } from "node:fs";
import { runCommand } from "./command.js";

export interface MountEntry {
  readonly mountId: number;
  /** The path inside its file system that is mounted (a bind mount's source dir). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** Per-superblock options; for cgroup v1 they name the controllers (e.g. "rw,cpu"). */
  readonly superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/** Parses /proc/<pid>/mountinfo text (see proc(5)); lines it cannot read are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mountId = Number(left[0]);
    const root = left[3];
    const mountPoint = left[4];
    const fsType = right[0];
    const source = right[1];
    if (
      !Number.isInteger(mountId) ||
      root === undefined ||
      mountPoint === undefined ||
      fsType === undefined
    ) {
      continue;
    }
    entries.push({
      mountId,
      root: unescapeMountPath(root),
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      source: unescapeMountPath(source ?? ""),
      superOptions: right[2] ?? "",
    });
  }
  return entries;
}

export function readMounts(): MountEntry[] {
  return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
}

/** Mounts at `dir` or below it, deepest (last mounted) first: the order to unmount them in. */
export function mountsUnder(
  dir: string,
  mounts: readonly MountEntry[] = readMounts(),
): MountEntry[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return mounts
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix))
    .sort((a, b) => b.mountId - a.mountId);
}

/**
 * Unmounts everything at or below `dir`; a busy mount is detached lazily (it then disappears
 * from our namespace at once and the kernel frees it when its last user goes).
 * Resolves with the mount points still present afterwards (empty = success).
 */
export async function unmountAllUnder(dir: string): Promise<string[]> {
  for (const m of mountsUnder(dir)) {
    const r = await runCommand(["umount", m.mountPoint]);
    if (r.code !== 0 && readMounts().some((x) => x.mountId === m.mountId)) {
      await runCommand(["umount", "-l", m.mountPoint]);
    }
  }
  return mountsUnder(dir).map((m) => m.mountPoint);
}
