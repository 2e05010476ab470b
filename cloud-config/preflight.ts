/**
 * @module cloud-config/preflight
 * The checks made on every path a run writes before anything is written, so a refused document
 * (or a --root image whose links point out to the host) changes nothing: no symlink as the file
 * itself, no symlinked directory leading out of the root, no file where a directory must be.
 * Paths a run removes (unmask) are checked too: a removal through a link leaves the root as well.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { CloudConfigInputError } from "./errors.js";

/** A path (as seen from inside the root) that the run will write. */
export interface WriteTarget {
  readonly path: string;
  /** Named in the refusal: the document's field, or what writes it (the state file). */
  readonly where: string;
  /** A mask: the file may already be the link to /dev/null that the mask writes. */
  readonly devNullLinkAllowed?: boolean;
  /**
   * An unmask only removes the file, and only when it is a mask: whatever the file is may stay,
   * but the directories leading to it are checked like any other.
   */
  readonly parentsOnly?: boolean;
}

function realpathOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * True if `resolved` (a real path) is `realRoot` or below it. With "/" as the root every path
 * is inside: appending a separator would test for "//" and refuse every symlinked directory
 * (/var/run -> /run, merged-usr /lib -> usr/lib).
 */
export function isInsideRoot(realRoot: string, resolved: string): boolean {
  return (
    realRoot === path.sep || resolved === realRoot || resolved.startsWith(`${realRoot}${path.sep}`)
  );
}

/** The root's real path; refuses a root that is not an existing directory. */
export function realRootOf(root: string): string {
  const realRoot = realpathOrUndefined(root);
  if (realRoot === undefined || !statSync(realRoot).isDirectory()) {
    throw new CloudConfigInputError("--root", `${root} is not an existing directory`);
  }
  return realRoot;
}

/** Refuses the first target whose way is blocked; writes nothing. */
export function preflightTargets(root: string, targets: readonly WriteTarget[]): void {
  const realRoot = realRootOf(root);
  for (const t of targets) checkTarget(root, realRoot, t);
}

function checkTarget(root: string, realRoot: string, t: WriteTarget): void {
  const parts = t.path.split("/").filter(Boolean);
  let cur = realRoot;
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i] ?? "");
    const shown = `/${parts.slice(0, i + 1).join("/")}`;
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(next);
    } catch {
      return; // Absent: it will be created (a directory, or the file itself).
    }
    const last = i === parts.length - 1;
    if (last && t.parentsOnly === true) return;
    if (st.isSymbolicLink()) {
      if (last) {
        if (t.devNullLinkAllowed === true && readlinkSync(next) === "/dev/null") return;
        throw new CloudConfigInputError(
          t.where,
          `${shown} is a symbolic link (to ${readlinkSync(next)}); refusing to write through it — remove the link first`,
        );
      }
      const resolved = realpathOrUndefined(next);
      if (resolved === undefined) {
        throw new CloudConfigInputError(
          t.where,
          `${shown} is a dangling symbolic link (to ${readlinkSync(next)}); refusing to write through it`,
        );
      }
      if (!isInsideRoot(realRoot, resolved)) {
        throw new CloudConfigInputError(
          t.where,
          `${shown} is a symbolic link leading outside ${root} (to ${readlinkSync(next)}); refusing to write through it`,
        );
      }
      cur = resolved;
      continue;
    }
    if (!last && !st.isDirectory()) {
      throw new CloudConfigInputError(t.where, `${shown} exists and is not a directory`);
    }
    if (last && st.isDirectory()) {
      throw new CloudConfigInputError(
        t.where,
        `${shown} is a directory; a file cannot be written there`,
      );
    }
    cur = next;
  }
}
