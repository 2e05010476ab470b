/**
 * @module cloud-config/accounts
 * The target's user database as the planner sees it: /etc/passwd and /etc/group, parsed, so that
 * an owner or group that does not exist is refused before anything is written.
 */

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
}

export interface AccountsSnapshot {
  readonly users: readonly PasswdEntry[];
  readonly groups: readonly GroupEntry[];
}

export const NO_ACCOUNTS: AccountsSnapshot = { users: [], groups: [] };

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || f[0] === "") continue;
    out.push({ name: f[0] ?? "", uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "" });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || f[0] === "") continue;
    out.push({ name: f[0] ?? "", gid: Number(f[2]) });
  }
  return out;
}

export function findUser(a: AccountsSnapshot, name: string): PasswdEntry | undefined {
  return a.users.find((u) => u.name === name);
}

export function findGroup(a: AccountsSnapshot, name: string): GroupEntry | undefined {
  return a.groups.find((g) => g.name === name);
}
