/**
 * @module cloud-config/plan
 * The pure planner: a decoded cloud-config and a snapshot of the target's user database →
 * the ordered actions that apply it, in coreos-cloudinit's order (initialize/config.go Apply
 * and processUnits): hostname, users, SSH keys, write_files, then units — unit files and
 * drop-ins (coreos.units, then etcd2's and fleet's 20-cloudinit.conf), mask/unmask, enable,
 * one daemon-reload, the networkd restart, the unit commands.
 *
 * Every problem that would stop the apply half-way is found here, before anything is written:
 * paths, encodings, modes, owners, unit and drop-in names. coreos.etcd (v1), locksmith, update,
 * flannel, oem and manage_etc_hosts are validated but not applied: fleet-ts ships none of them.
 */
import path from "node:path";
import { unitNameProblem } from "../units/index.js";
import { type AccountsSnapshot, findGroup, findUser } from "./accounts.js";
import { etcd2DropIn, fleetDropIn } from "./dropins.js";
import { CloudConfigInputError } from "./errors.js";
import type { CloudConfig, UnitCommand, UnitConfig, UserConfig } from "./schema.js";
import { UNIT_COMMANDS } from "./schema.js";
import { decodeContent, fileMode } from "./write-file-content.js";

export interface FileOwner {
  readonly user: string;
  /** Undefined: the user's primary group, as chown "user" leaves it... unchanged. */
  readonly group?: string;
}

export type Action =
  | { readonly type: "hostname"; readonly hostname: string }
  | { readonly type: "user"; readonly user: UserConfig }
  | {
      readonly type: "authorized_keys";
      readonly user: string;
      readonly path: string;
      readonly keys: readonly string[];
      readonly field: string;
    }
  | {
      readonly type: "write_file";
      readonly path: string;
      readonly content: Buffer;
      readonly mode: number;
      readonly owner: FileOwner | undefined;
      readonly field: string;
    }
  | {
      readonly type: "place_unit";
      readonly unit: string;
      readonly path: string;
      readonly content: string;
    }
  | {
      readonly type: "place_dropin";
      readonly unit: string;
      readonly dropin: string;
      readonly path: string;
      readonly content: string;
    }
  | { readonly type: "mask"; readonly unit: string; readonly path: string }
  | { readonly type: "unmask"; readonly unit: string; readonly path: string }
  | { readonly type: "enable"; readonly unit: string; readonly runtime: boolean }
  | { readonly type: "daemon_reload" }
  | { readonly type: "unit_command"; readonly unit: string; readonly command: UnitCommand };

export interface Plan {
  readonly actions: readonly Action[];
  /** Sections that are valid cloud-config but that fleet-ts does not apply, with why. */
  readonly ignored: readonly string[];
}

const NETWORK_TYPES = new Set(["network", "netdev", "link"]);
const NETWORK_UNIT = /^[A-Za-z0-9:_.@-]+\.(network|netdev|link)$/;
const DROPIN_NAME = /^[A-Za-z0-9:_.@-]+\.conf$/;
const HOSTNAME =
  /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

function unitGroup(name: string): "network" | "system" {
  return NETWORK_TYPES.has(path.extname(name).slice(1)) ? "network" : "system";
}

function unitDir(name: string, runtime: boolean): string {
  return path.posix.join(runtime ? "/run" : "/etc", "systemd", unitGroup(name));
}

/** An absolute, normalized path that names a file (not "/", no "..", no "//"). */
export function checkTargetPath(p: string, field: string): void {
  const fix = 'write an absolute path such as "/etc/motd"';
  if (p === "") throw new CloudConfigInputError(field, `path is missing; ${fix}`);
  if (p.includes("\0")) throw new CloudConfigInputError(field, "path contains a NUL byte");
  if (!p.startsWith("/")) {
    throw new CloudConfigInputError(field, `path ${JSON.stringify(p)} is relative; ${fix}`);
  }
  if (p === "/" || p.endsWith("/")) {
    throw new CloudConfigInputError(
      field,
      `path ${JSON.stringify(p)} names a directory, not a file`,
    );
  }
  if (path.posix.normalize(p) !== p || p.split("/").includes("..")) {
    throw new CloudConfigInputError(
      field,
      `path ${JSON.stringify(p)} is not in normal form (no "..", "." or "//"); write ${JSON.stringify(path.posix.normalize(p))}`,
    );
  }
}

/** Users the document creates, in addition to the snapshot's. */
function documentUsers(cfg: CloudConfig): Map<string, UserConfig> {
  const m = new Map<string, UserConfig>();
  for (const u of cfg.users ?? []) if (u.name !== "") m.set(u.name, u);
  return m;
}

function parseOwner(
  owner: string,
  field: string,
  accounts: AccountsSnapshot,
  created: Map<string, UserConfig>,
): FileOwner | undefined {
  if (owner === "") return undefined;
  const [user = "", group, ...rest] = owner.split(":");
  if (rest.length > 0 || user === "") {
    throw new CloudConfigInputError(
      field,
      `owner ${JSON.stringify(owner)} is not "user" or "user:group"`,
    );
  }
  if (!/^\d+$/.test(user) && findUser(accounts, user) === undefined && !created.has(user)) {
    throw new CloudConfigInputError(
      field,
      `owner ${JSON.stringify(owner)}: no user ${JSON.stringify(user)} on this system; create it under "users:" or use an existing one`,
    );
  }
  if (group !== undefined && group !== "" && !/^\d+$/.test(group)) {
    const createdGroup = [...created.values()].some(
      (u) => (u.name === group && !u.no_user_group) || u.primary_group === group,
    );
    if (findGroup(accounts, group) === undefined && !createdGroup) {
      throw new CloudConfigInputError(
        field,
        `owner ${JSON.stringify(owner)}: no group ${JSON.stringify(group)} on this system`,
      );
    }
  }
  return group === undefined || group === "" ? { user } : { user, group };
}

function homeOf(
  name: string,
  accounts: AccountsSnapshot,
  created: Map<string, UserConfig>,
): string | undefined {
  const existing = findUser(accounts, name);
  if (existing !== undefined) return existing.home;
  const u = created.get(name);
  if (u === undefined) return undefined;
  return u.homedir !== "" ? u.homedir : `/home/${name}`;
}

function checkUser(
  u: UserConfig,
  field: string,
  accounts: AccountsSnapshot,
  created: Map<string, UserConfig>,
): void {
  if (!USER_NAME.test(u.name)) {
    throw new CloudConfigInputError(
      `${field}.name`,
      `${JSON.stringify(u.name)} is not a user name (lowercase letters, digits, "_" and "-", starting with a letter or "_")`,
    );
  }
  for (const g of u.groups ?? []) {
    const made = [...created.values()].some((c) => c.name === g && !c.no_user_group);
    if (findGroup(accounts, g) === undefined && !made) {
      throw new CloudConfigInputError(
        `${field}.groups`,
        `no group ${JSON.stringify(g)} on this system`,
      );
    }
  }
  if (u.homedir !== "") checkTargetPath(u.homedir, `${field}.homedir`);
  if (u.shell !== "" && !u.shell.startsWith("/")) {
    throw new CloudConfigInputError(
      `${field}.shell`,
      `shell ${JSON.stringify(u.shell)} must be an absolute path`,
    );
  }
}

function checkUnit(u: UnitConfig, field: string): void {
  if (
    unitGroup(u.name) === "network"
      ? !NETWORK_UNIT.test(u.name)
      : unitNameProblem(u.name) !== undefined
  ) {
    throw new CloudConfigInputError(
      `${field}.name`,
      `${JSON.stringify(u.name)} is not a unit name: ${unitNameProblem(u.name) ?? "bad characters"}`,
    );
  }
  if (u.command !== "" && !(UNIT_COMMANDS as readonly string[]).includes(u.command)) {
    throw new CloudConfigInputError(
      `${field}.command`,
      `unknown command ${JSON.stringify(u.command)}; use one of ${UNIT_COMMANDS.join(", ")}`,
    );
  }
  (u.drop_ins ?? []).forEach((d, j) => {
    if (d.name !== "" && !DROPIN_NAME.test(d.name)) {
      throw new CloudConfigInputError(
        `${field}.drop_ins[${j}].name`,
        `${JSON.stringify(d.name)} is not a drop-in file name (like "50-extra.conf")`,
      );
    }
  });
}

/**
 * @throws CloudConfigInputError naming the field, before anything is planned to be written.
 */
export function planCloudConfig(cfg: CloudConfig, accounts: AccountsSnapshot): Plan {
  const actions: Action[] = [];
  const ignored: string[] = [];
  const created = documentUsers(cfg);

  if (cfg.hostname !== "") {
    if (!HOSTNAME.test(cfg.hostname)) {
      throw new CloudConfigInputError(
        "hostname",
        `${JSON.stringify(cfg.hostname)} is not a host name (letters, digits and "-", dot-separated, at most 64 characters)`,
      );
    }
    actions.push({ type: "hostname", hostname: cfg.hostname });
  }

  (cfg.users ?? []).forEach((u, i) => {
    // coreos-cloudinit skipped a user without a name; so do we, after saying so in the plan.
    if (u.name === "") return;
    checkUser(u, `users[${i}]`, accounts, created);
    actions.push({ type: "user", user: u });
    if ((u.ssh_authorized_keys ?? []).length > 0) {
      const home = homeOf(u.name, accounts, created) ?? `/home/${u.name}`;
      actions.push({
        type: "authorized_keys",
        user: u.name,
        path: path.posix.join(home, ".ssh", "authorized_keys"),
        keys: u.ssh_authorized_keys ?? [],
        field: `users[${i}].ssh_authorized_keys`,
      });
    }
    if (
      u.coreos_ssh_import_github !== "" ||
      (u.coreos_ssh_import_github_users ?? []).length > 0 ||
      u.coreos_ssh_import_url !== ""
    ) {
      ignored.push(
        `users[${i}]: coreos_ssh_import_* (fetching keys from the network at boot is not supported)`,
      );
    }
  });

  if ((cfg.ssh_authorized_keys ?? []).length > 0) {
    const home = homeOf("core", accounts, created);
    if (home === undefined) {
      throw new CloudConfigInputError(
        "ssh_authorized_keys",
        'these keys are for the user "core", which does not exist here; add "core" under users: or put the keys under users[].ssh_authorized_keys',
      );
    }
    actions.push({
      type: "authorized_keys",
      user: "core",
      path: path.posix.join(home, ".ssh", "authorized_keys"),
      keys: cfg.ssh_authorized_keys ?? [],
      field: "ssh_authorized_keys",
    });
  }

  const seenPaths = new Map<string, string>();
  (cfg.write_files ?? []).forEach((f, i) => {
    const field = `write_files[${i}]`;
    checkTargetPath(f.path, `${field}.path`);
    const prev = seenPaths.get(f.path);
    if (prev !== undefined) {
      throw new CloudConfigInputError(
        `${field}.path`,
        `${f.path} is also written by ${prev}; keep one`,
      );
    }
    seenPaths.set(f.path, field);
    const decoded = decodeContent(f.content, f.encoding);
    if (!decoded.ok) throw new CloudConfigInputError(`${field}.content`, decoded.reason);
    const mode = fileMode(f.permissions);
    if (!mode.ok) throw new CloudConfigInputError(`${field}.permissions`, mode.reason);
    const owner = parseOwner(f.owner, `${field}.owner`, accounts, created);
    actions.push({
      type: "write_file",
      path: f.path,
      content: decoded.bytes,
      mode: mode.mode,
      owner,
      field,
    });
  });

  const c = cfg.coreos;
  const fleetContent = fleetDropIn(c.fleet);
  const etcd2Content = etcd2DropIn(c.etcd2);
  const units: { unit: UnitConfig; field: string }[] = (c.units ?? []).map((unit, i) => ({
    unit,
    field: `coreos.units[${i}]`,
  }));
  const runtimeUnit = (name: string, content: string): UnitConfig => ({
    name,
    mask: false,
    enable: false,
    runtime: true,
    content: "",
    command: "",
    drop_ins: [{ name: "20-cloudinit.conf", content }],
  });
  units.push({ unit: runtimeUnit("etcd2.service", etcd2Content), field: "coreos.etcd2" });
  units.push({ unit: runtimeUnit("fleet.service", fleetContent), field: "coreos.fleet" });
  for (const [name, section] of [
    ["etcd", c.etcd],
    ["locksmith", c.locksmith],
    ["update", c.update],
    ["flannel", c.flannel],
    ["oem", c.oem],
  ] as const) {
    if (Object.values(section).some((v) => v !== "" && v !== 0 && v !== false)) {
      ignored.push(`coreos.${name} (fleet-ts does not ship ${name === "etcd" ? "etcd v1" : name})`);
    }
  }
  if (cfg.manage_etc_hosts !== "") ignored.push("manage_etc_hosts (not applied by fleet-ts)");

  const commands: Action[] = [];
  let reload = false;
  let restartNetworkd = false;
  for (const { unit: u, field } of units) {
    if (u.name === "") continue;
    checkUnit(u, field);
    const dir = unitDir(u.name, u.runtime);
    if (u.content !== "") {
      actions.push({
        type: "place_unit",
        unit: u.name,
        path: path.posix.join(dir, u.name),
        content: u.content,
      });
      reload = true;
    }
    for (const d of u.drop_ins ?? []) {
      if (d.name === "" || d.content === "") continue;
      // For fleet and etcd2 this is FLEET_DROPIN_PATH / ETCD2_DROPIN_PATH.
      const p = path.posix.join(dir, `${u.name}.d`, d.name);
      actions.push({
        type: "place_dropin",
        unit: u.name,
        dropin: d.name,
        path: p,
        content: d.content,
      });
      reload = true;
    }
    if (u.mask) actions.push({ type: "mask", unit: u.name, path: path.posix.join(dir, u.name) });
    else if (u.runtime)
      actions.push({ type: "unmask", unit: u.name, path: path.posix.join(dir, u.name) });
    const network = unitGroup(u.name) === "network";
    if (u.enable && !network) actions.push({ type: "enable", unit: u.name, runtime: u.runtime });
    if (network) restartNetworkd = true;
    else if (u.command !== "")
      commands.push({ type: "unit_command", unit: u.name, command: u.command as UnitCommand });
  }
  if (reload) actions.push({ type: "daemon_reload" });
  if (restartNetworkd)
    actions.push({ type: "unit_command", unit: "systemd-networkd.service", command: "restart" });
  actions.push(...commands);
  return { actions, ignored };
}

/** One line per action, for `--dry-run` and the journal. */
export function describeAction(a: Action): string {
  switch (a.type) {
    case "hostname":
      return `set hostname ${a.hostname}`;
    case "user":
      return `ensure user ${a.user.name}`;
    case "authorized_keys":
      return `write ${a.keys.length} SSH key(s) for ${a.user} to ${a.path}`;
    case "write_file":
      return `write ${a.path} (${a.content.length} bytes, mode ${a.mode.toString(8).padStart(4, "0")}${a.owner ? `, owner ${a.owner.user}${a.owner.group ? `:${a.owner.group}` : ""}` : ""})`;
    case "place_unit":
      return `write unit ${a.path}`;
    case "place_dropin":
      return `write drop-in ${a.path}`;
    case "mask":
      return `mask ${a.unit} (${a.path} -> /dev/null)`;
    case "unmask":
      return `unmask ${a.unit} if ${a.path} is a mask`;
    case "enable":
      return `enable ${a.unit}${a.runtime ? " (runtime)" : ""}`;
    case "daemon_reload":
      return "systemd daemon-reload";
    case "unit_command":
      return `${a.command} ${a.unit}`;
  }
}
