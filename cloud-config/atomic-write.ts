/**
 * @module cloud-config/atomic-write
 * How fleet-cloudinit replaces a file or a link so that a crash or power loss at any moment
 * leaves the old one or the new one, never a half-written or missing one: write (or link) a
 * temporary name in the same directory, fsync it, rename it over the target, fsync the
 * directory (the rename itself is durable only once the directory is).
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";

export interface Ids {
  readonly uid: number;
  readonly gid: number;
}

/** Creates `dir` (and its parents) if absent; true if it had to. */
export function ensureDir(dir: string): boolean {
  try {
    if (statSync(dir).isDirectory()) return false;
  } catch {
    // absent
  }
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return true;
}

/** Makes a rename or unlink in `dir` durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function temporaryName(full: string): string {
  return path.join(
    path.dirname(full),
    `.${path.basename(full)}.fleet-cloudinit-${randomBytes(4).toString("hex")}`,
  );
}

/** Writes `content` to `full` atomically unless it is already there; true if it changed. */
export function writeAtomic(
  full: string,
  content: Buffer,
  mode: number,
  ids: Ids | undefined,
): boolean {
  try {
    const st = lstatSync(full);
    if (
      st.isFile() &&
      (st.mode & 0o7777) === mode &&
      (ids === undefined || (st.uid === ids.uid && st.gid === ids.gid)) &&
      readFileSync(full).equals(content)
    ) {
      return false;
    }
  } catch {
    // absent
  }
  const dir = path.dirname(full);
  ensureDir(dir);
  const tmp = temporaryName(full);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    try {
      writeSync(fd, content);
      // The mode after creation: the umask and the sticky bit must not decide it.
      chmodSync(tmp, mode);
      if (ids !== undefined) chownSync(tmp, ids.uid, ids.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, full);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDirectory(dir);
  return true;
}

/**
 * Makes `full` a symbolic link to `target`, replacing whatever file is there in one rename, so
 * there is no moment without either the old file or the link (a mask over a unit file).
 */
export function symlinkAtomic(target: string, full: string): void {
  const dir = path.dirname(full);
  ensureDir(dir);
  const tmp = temporaryName(full);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, full);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDirectory(dir);
}

/** Removes `full` and makes the removal durable. */
export function removeDurably(full: string): void {
  rmSync(full);
  fsyncDirectory(path.dirname(full));
}
