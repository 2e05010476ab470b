/**
 * @module cloud-config/apply
 * The applier: runs a Plan against a root directory (`/` on a real host, any directory with
 * `--root`) and, for units, against systemd over D-Bus (the agent's SystemdClient).
 *
 * - Preflight first: every path the plan writes is checked (no symlink as the file itself, no
 *   symlink leading out of the root, no file where a directory must be) before anything is
 *   written, so a refused document changes nothing.
 * - Files and mask links are written atomically (atomic-write.ts): a temporary name in the same
 *   directory with the mode and owner set, fsync, rename, fsync of the directory.
 * - Idempotent: an action whose result is already there is skipped and reported as unchanged;
 *   daemon-reload runs only when a unit file changed; `start`/`stop` only when the unit is not
 *   already in that state; restart-like commands only when the unit's files changed (or, for
 *   `restart`/`reload-or-restart`, when the unit is not running).
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { type AccountsSnapshot, findGroup, findUser, parseGroup, parsePasswd } from "./accounts.js";
import { ensureDir, type Ids, removeDurably, symlinkAtomic, writeAtomic } from "./atomic-write.js";
import { CloudConfigApplyError, CloudConfigInputError } from "./errors.js";
import { type Action, describeAction, type FileOwner, type Plan } from "./plan.js";
import { preflightTargets, type WriteTarget } from "./preflight.js";
import type { UnitCommand } from "./schema.js";

/** What the applier needs from systemd; SystemdUnitManager implements it over D-Bus. */
export interface UnitManager {
  daemonReload(): Promise<void>;
  /** Returns how many symlinks systemd created (0: already enabled). */
  enable(unit: string, runtime: boolean): Promise<number>;
  /** ActiveState: active, inactive, failed, activating, ... */
  activeState(unit: string): Promise<string>;
  /** Queues the job, as coreos-cloudinit did (it did not wait for jobs either). */
  command(unit: string, command: UnitCommand): Promise<void>;
}

export interface ApplyOptions {
  /** Absolute directory that stands for `/`. */
  readonly root: string;
  /** Undefined: systemd actions are reported as skipped (e.g. `--root` into a directory). */
  readonly units?: UnitManager;
  /** Run useradd/usermod (default: only when root is "/"). */
  readonly manageUsers?: boolean;
  readonly log?: (line: string) => void;
  /** Paths the caller writes after the apply (the state file): refused up front too. */
  readonly alsoWrites?: readonly WriteTarget[];
}

export type Outcome = "changed" | "unchanged" | "skipped";

export interface ActionResult {
  readonly action: string;
  readonly outcome: Outcome;
  /** Changes under /run: lost at every reboot, so redone at every boot. */
  readonly runtime: boolean;
  readonly detail?: string;
}

export interface ApplyResult {
  readonly results: readonly ActionResult[];
  /** Changes outside /run (files, users, masks and enables in /etc). */
  readonly persistentChanges: number;
  /** Changes that every boot redoes (/run files, daemon-reload, starting units). */
  readonly bootChanges: number;
  readonly summary: string;
}

export function readAccounts(root: string): AccountsSnapshot {
  const read = (p: string) => {
    try {
      return readFileSync(path.join(root, p), "utf8");
    } catch {
      return "";
    }
  };
  return { users: parsePasswd(read("/etc/passwd")), groups: parseGroup(read("/etc/group")) };
}

function inRoot(root: string, p: string): string {
  return path.join(root, p);
}

function isRuntimePath(p: string): boolean {
  return p === "/run" || p.startsWith("/run/");
}

/** The file (inside the root) each action writes, if any. */
function targetPath(a: Action): string | undefined {
  switch (a.type) {
    case "write_file":
    case "place_unit":
    case "place_dropin":
    case "mask":
    case "authorized_keys":
      return a.path;
    case "hostname":
      return "/etc/hostname";
    default:
      return undefined;
  }
}

/**
 * Refuses, before anything is written, a plan whose paths (those it writes, the directories of
 * those it may remove, and `alsoWrites`: paths the caller writes after the apply, such as the
 * state file) are blocked; see preflight.ts.
 */
export function preflight(plan: Plan, root: string, alsoWrites: readonly WriteTarget[] = []): void {
  const targets: WriteTarget[] = [];
  for (const a of plan.actions) {
    if (a.type === "unmask") {
      targets.push({ path: a.path, where: describeAction(a), parentsOnly: true });
      continue;
    }
    const p = targetPath(a);
    if (p === undefined) continue;
    targets.push({
      path: p,
      where: "field" in a ? a.field : describeAction(a),
      devNullLinkAllowed: a.type === "mask",
    });
  }
  preflightTargets(root, [...targets, ...alsoWrites]);
}

function resolveOwner(owner: FileOwner | undefined, root: string, where: string): Ids | undefined {
  if (owner === undefined) return undefined;
  const acc = readAccounts(root);
  const user = /^\d+$/.test(owner.user) ? undefined : findUser(acc, owner.user);
  const uid = /^\d+$/.test(owner.user) ? Number(owner.user) : user?.uid;
  if (uid === undefined)
    throw new CloudConfigApplyError(where, `no user ${owner.user} in ${root}/etc/passwd`);
  let gid: number | undefined;
  if (owner.group === undefined) gid = user?.gid ?? uid;
  else if (/^\d+$/.test(owner.group)) gid = Number(owner.group);
  else gid = findGroup(acc, owner.group)?.gid;
  if (gid === undefined)
    throw new CloudConfigApplyError(where, `no group ${owner.group} in ${root}/etc/group`);
  return { uid, gid };
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: 60_000 }, (err, _out, stderr) => {
      if (err)
        reject(new CloudConfigApplyError(`${cmd} ${args.join(" ")}`, stderr.trim() || err.message));
      else resolve();
    });
  });
}

function userArgs(u: Extract<Action, { type: "user" }>["user"]): string[] {
  const a: string[] = [];
  if (u.gecos !== "") a.push("--comment", u.gecos);
  if (u.homedir !== "") a.push("--home-dir", u.homedir);
  a.push(u.no_create_home ? "--no-create-home" : "--create-home");
  if (u.primary_group !== "") a.push("--gid", u.primary_group);
  if ((u.groups ?? []).length > 0) a.push("--groups", (u.groups ?? []).join(","));
  if (u.no_user_group) a.push("--no-user-group");
  if (u.system) a.push("--system");
  if (u.no_log_init) a.push("--no-log-init");
  if (u.shell !== "") a.push("--shell", u.shell);
  if (u.passwd !== "") a.push("--password", u.passwd);
  return a;
}

function shadowHash(root: string, name: string): string | undefined {
  try {
    const line = readFileSync(path.join(root, "etc/shadow"), "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${name}:`));
    return line?.split(":")[1];
  } catch {
    return undefined;
  }
}

const ACTIVE = new Set(["active", "activating", "reloading"]);

export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const root = path.resolve(opts.root);
  const log = opts.log ?? (() => {});
  const manageUsers = opts.manageUsers ?? root === "/";
  preflight(plan, root, opts.alsoWrites);
  const results: ActionResult[] = [];
  const changedUnits = new Set<string>();
  let unitFilesChanged = false;
  const record = (a: Action, outcome: Outcome, runtime: boolean, detail?: string) => {
    const line = describeAction(a);
    results.push(
      detail === undefined
        ? { action: line, outcome, runtime }
        : { action: line, outcome, runtime, detail },
    );
    log(`${outcome === "changed" ? "applied" : outcome}: ${line}${detail ? ` (${detail})` : ""}`);
  };

  for (const a of plan.actions) {
    try {
      switch (a.type) {
        case "hostname": {
          const changed = writeAtomic(
            inRoot(root, "/etc/hostname"),
            Buffer.from(`${a.hostname}\n`),
            0o644,
            undefined,
          );
          if (root === "/") await run("hostname", [a.hostname]);
          record(a, changed ? "changed" : "unchanged", false);
          break;
        }
        case "user": {
          if (!manageUsers) {
            record(a, "skipped", false, "users are managed only on the real root");
            break;
          }
          const prefix = root === "/" ? [] : ["--prefix", root];
          const exists = findUser(readAccounts(root), a.user.name) !== undefined;
          if (!exists) {
            await run("useradd", [...prefix, ...userArgs(a.user), a.user.name]);
            record(a, "changed", false, "created");
          } else if (a.user.passwd !== "" && shadowHash(root, a.user.name) !== a.user.passwd) {
            await run("usermod", [...prefix, "--password", a.user.passwd, a.user.name]);
            record(a, "changed", false, "password set");
          } else {
            record(a, "unchanged", false, "exists");
          }
          break;
        }
        case "authorized_keys": {
          const acc = readAccounts(root);
          const u = findUser(acc, a.user);
          if (u === undefined && manageUsers) {
            throw new CloudConfigApplyError(describeAction(a), `no user ${a.user}`);
          }
          const ids = u === undefined ? undefined : { uid: u.uid, gid: u.gid };
          const dir = inRoot(root, path.posix.dirname(a.path));
          const madeDir = ensureDir(dir);
          if (madeDir) {
            chmodSync(dir, 0o700);
            if (ids) chownSync(dir, ids.uid, ids.gid);
          }
          const text = Buffer.from(a.keys.map((k) => `${k}\n`).join(""));
          const changed = writeAtomic(inRoot(root, a.path), text, 0o600, ids);
          record(a, changed || madeDir ? "changed" : "unchanged", false);
          break;
        }
        case "write_file": {
          const ids = resolveOwner(a.owner, root, a.field);
          const changed = writeAtomic(inRoot(root, a.path), a.content, a.mode, ids);
          record(a, changed ? "changed" : "unchanged", isRuntimePath(a.path));
          break;
        }
        case "place_unit":
        case "place_dropin": {
          const changed = writeAtomic(
            inRoot(root, a.path),
            Buffer.from(a.content),
            0o644,
            undefined,
          );
          if (changed) {
            unitFilesChanged = true;
            changedUnits.add(a.unit);
          }
          record(a, changed ? "changed" : "unchanged", isRuntimePath(a.path));
          break;
        }
        case "mask": {
          const full = inRoot(root, a.path);
          let already = false;
          try {
            already = lstatSync(full).isSymbolicLink() && readlinkSync(full) === "/dev/null";
          } catch {
            // absent
          }
          if (!already) {
            symlinkAtomic("/dev/null", full);
            unitFilesChanged = true;
            changedUnits.add(a.unit);
          }
          record(a, already ? "unchanged" : "changed", isRuntimePath(a.path));
          break;
        }
        case "unmask": {
          const full = inRoot(root, a.path);
          let masked = false;
          try {
            const st = lstatSync(full);
            masked =
              (st.isSymbolicLink() && readlinkSync(full) === "/dev/null") ||
              (st.isFile() && st.size === 0);
          } catch {
            // absent: nothing to unmask
          }
          if (masked) {
            removeDurably(full);
            unitFilesChanged = true;
            changedUnits.add(a.unit);
          }
          record(a, masked ? "changed" : "unchanged", isRuntimePath(a.path));
          break;
        }
        case "enable": {
          if (opts.units === undefined) {
            record(a, "skipped", a.runtime, "no systemd to talk to");
            break;
          }
          const n = await opts.units.enable(a.unit, a.runtime);
          if (n > 0) unitFilesChanged = true;
          record(a, n > 0 ? "changed" : "unchanged", a.runtime);
          break;
        }
        case "daemon_reload": {
          if (opts.units === undefined) {
            record(a, "skipped", true, "no systemd to talk to");
            break;
          }
          if (!unitFilesChanged) {
            record(a, "unchanged", true, "no unit file changed");
            break;
          }
          await opts.units.daemonReload();
          record(a, "changed", true);
          break;
        }
        case "unit_command": {
          if (opts.units === undefined) {
            record(a, "skipped", true, "no systemd to talk to");
            break;
          }
          const state = await opts.units.activeState(a.unit);
          const touched = changedUnits.has(a.unit);
          const decision = commandDecision(a.command, ACTIVE.has(state), touched);
          if (decision !== undefined) {
            record(a, "unchanged", true, `${decision} (${state})`);
            break;
          }
          await opts.units.command(a.unit, a.command);
          record(a, "changed", true);
          break;
        }
      }
    } catch (err) {
      if (err instanceof CloudConfigApplyError || err instanceof CloudConfigInputError) throw err;
      throw new CloudConfigApplyError(describeAction(a), (err as Error).message);
    }
  }
  const persistentChanges = results.filter((r) => r.outcome === "changed" && !r.runtime).length;
  const bootChanges = results.filter((r) => r.outcome === "changed" && r.runtime).length;
  const summary =
    persistentChanges + bootChanges === 0
      ? "nothing to change"
      : persistentChanges === 0
        ? `nothing new to apply: the configuration is already in place; redid ${bootChanges} boot-time action(s) (files under /run, reload, unit commands)`
        : `applied ${persistentChanges + bootChanges} change(s)`;
  log(summary);
  return { results, persistentChanges, bootChanges, summary };
}

/** Why a unit command is not needed now, or undefined to run it. */
export function commandDecision(
  command: UnitCommand,
  active: boolean,
  filesChanged: boolean,
): string | undefined {
  switch (command) {
    case "start":
      return active ? "already running" : undefined;
    case "stop":
      return active ? undefined : "already stopped";
    case "restart":
    case "reload-or-restart":
      return active && !filesChanged ? "running, and none of its files changed" : undefined;
    case "reload":
    case "try-restart":
    case "reload-or-try-restart":
      return !active ? "not running" : filesChanged ? undefined : "none of its files changed";
  }
}
