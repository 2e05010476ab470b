/**
 * The pure planner, with plain objects: a decoded config and a user-database snapshot in, the
 * ordered actions (or a CloudConfigInputError naming the field) out.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { AccountsSnapshot } from "../cloud-config/accounts.js";
import { commandDecision } from "../cloud-config/apply.js";
import { emptyConfig, parseUserData } from "../cloud-config/document.js";
import { CloudConfigInputError } from "../cloud-config/errors.js";
import { MAX_USER_DATA_BYTES } from "../cloud-config/gunzip.js";
import { type Action, describeAction, planCloudConfig } from "../cloud-config/plan.js";
import type { CloudConfig } from "../cloud-config/schema.js";

const ACCOUNTS: AccountsSnapshot = {
  users: [
    { name: "root", uid: 0, gid: 0, home: "/root" },
    { name: "core", uid: 500, gid: 500, home: "/home/core" },
  ],
  groups: [
    { name: "root", gid: 0 },
    { name: "core", gid: 500 },
    { name: "docker", gid: 900 },
  ],
};

function config(patch: (c: CloudConfig) => void): CloudConfig {
  const c = emptyConfig();
  patch(c);
  return c;
}

const types = (actions: readonly Action[]) => actions.map((a) => a.type);

describe("planCloudConfig", () => {
  it("an empty document only makes sure fleet and etcd2 are not masked at runtime", () => {
    const plan = planCloudConfig(emptyConfig(), ACCOUNTS);
    expect(plan.actions).toEqual([
      { type: "unmask", unit: "etcd2.service", path: "/run/systemd/system/etcd2.service" },
      { type: "unmask", unit: "fleet.service", path: "/run/systemd/system/fleet.service" },
    ]);
    expect(plan.ignored).toEqual([]);
  });

  it("orders hostname, users, keys, files, unit files, reload, then commands", () => {
    const plan = planCloudConfig(
      parseUserData(`#cloud-config
hostname: web1
users:
  - name: alice
    groups: [docker]
    ssh_authorized_keys: [ssh-ed25519 AAAA alice]
ssh_authorized_keys: [ssh-ed25519 BBBB core]
write_files:
  - path: /etc/motd
    content: hi
    owner: alice:docker
coreos:
  fleet:
    metadata: role=web
  units:
    - name: app.service
      command: start
      enable: true
      content: "[Service]\\nExecStart=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n"
    - name: other.service
      command: restart
`).config,
      ACCOUNTS,
    );
    expect(types(plan.actions)).toEqual([
      "hostname",
      "user",
      "authorized_keys",
      "authorized_keys",
      "write_file",
      "place_unit",
      "enable",
      "unmask",
      "place_dropin",
      "unmask",
      "daemon_reload",
      "unit_command",
      "unit_command",
    ]);
    const keys = plan.actions.filter((a) => a.type === "authorized_keys");
    expect(keys.map((k) => k.path)).toEqual([
      "/home/alice/.ssh/authorized_keys",
      "/home/core/.ssh/authorized_keys",
    ]);
    const file = plan.actions.find((a) => a.type === "write_file");
    expect(file).toMatchObject({
      path: "/etc/motd",
      mode: 0o644,
      owner: { user: "alice", group: "docker" },
    });
    expect(plan.actions.slice(-2).map(describeAction)).toEqual([
      "start app.service",
      "restart other.service",
    ]);
    expect(plan.actions.find((a) => a.type === "place_dropin")).toEqual({
      type: "place_dropin",
      unit: "fleet.service",
      dropin: "20-cloudinit.conf",
      path: "/run/systemd/system/fleet.service.d/20-cloudinit.conf",
      content: '[Service]\nEnvironment="FLEET_METADATA=role=web"\n',
    });
  });

  it("no unit file written means no daemon-reload", () => {
    const plan = planCloudConfig(
      config((c) => {
        c.coreos.units = [
          {
            name: "a.service",
            mask: false,
            enable: false,
            runtime: false,
            content: "",
            command: "start",
            drop_ins: null,
          },
        ];
      }),
      ACCOUNTS,
    );
    expect(types(plan.actions)).not.toContain("daemon_reload");
    expect(types(plan.actions)).toContain("unit_command");
  });

  it("mask wins over runtime unmask; network units go to /etc/systemd/network and restart networkd", () => {
    const plan = planCloudConfig(
      config((c) => {
        c.coreos.units = [
          {
            name: "bad.service",
            mask: true,
            enable: false,
            runtime: true,
            content: "",
            command: "",
            drop_ins: null,
          },
          {
            name: "10-eth.network",
            mask: false,
            enable: true,
            runtime: false,
            content: "[Match]\n",
            command: "start",
            drop_ins: null,
          },
        ];
      }),
      ACCOUNTS,
    );
    expect(plan.actions[0]).toEqual({
      type: "mask",
      unit: "bad.service",
      path: "/run/systemd/system/bad.service",
    });
    expect(plan.actions[1]).toMatchObject({
      type: "place_unit",
      path: "/etc/systemd/network/10-eth.network",
    });
    expect(types(plan.actions)).not.toContain("enable");
    expect(plan.actions.at(-1)).toEqual({
      type: "unit_command",
      unit: "systemd-networkd.service",
      command: "restart",
    });
  });

  it("decodes every encoding and takes octal permissions", () => {
    const plan = planCloudConfig(
      config((c) => {
        c.write_files = [
          { path: "/a", content: "aGVsbG8=", encoding: "b64", owner: "", permissions: "0600" },
          {
            path: "/b",
            content: "H4sIABMVh1QAA0tKLAIAqoz/dgMAAAA=",
            encoding: "gzip+base64",
            owner: "",
            permissions: "755",
          },
        ];
      }),
      ACCOUNTS,
    );
    const files = plan.actions.filter((a) => a.type === "write_file");
    expect(files.map((f) => [f.content.toString(), f.mode])).toEqual([
      ["hello", 0o600],
      ["bar", 0o755],
    ]);
  });

  it("notes the sections it validates but does not apply", () => {
    const plan = planCloudConfig(
      config((c) => {
        c.coreos.update.reboot_strategy = "off";
        c.coreos.etcd.name = "x";
        c.manage_etc_hosts = "localhost";
      }),
      ACCOUNTS,
    );
    expect(plan.ignored.join("\n")).toMatch(/coreos\.etcd .*etcd v1/);
    expect(plan.ignored.join("\n")).toMatch(/coreos\.update/);
    expect(plan.ignored.join("\n")).toMatch(/manage_etc_hosts/);
  });

  const refusals: [string, (c: CloudConfig) => void, RegExp][] = [
    [
      "relative path",
      (c) => {
        c.write_files = [file({ path: "etc/motd" })];
      },
      /^write_files\[0\]\.path: .*relative/,
    ],
    [
      "dot-dot path",
      (c) => {
        c.write_files = [file({ path: "/etc/../shadow" })];
      },
      /^write_files\[0\]\.path: .*normal form/,
    ],
    [
      "missing path",
      (c) => {
        c.write_files = [file({ path: "" })];
      },
      /^write_files\[0\]\.path: path is missing/,
    ],
    [
      "directory path",
      (c) => {
        c.write_files = [file({ path: "/etc/" })];
      },
      /^write_files\[0\]\.path: .*directory/,
    ],
    [
      "same path twice",
      (c) => {
        c.write_files = [file({ path: "/x" }), file({ path: "/x" })];
      },
      /^write_files\[1\]\.path: .*also written by write_files\[0\]/,
    ],
    [
      "bad base64",
      (c) => {
        c.write_files = [file({ encoding: "base64", content: "@@" })];
      },
      /^write_files\[0\]\.content: not base64/,
    ],
    [
      "bad gzip",
      (c) => {
        c.write_files = [file({ encoding: "gzip+base64", content: "aGVsbG8=" })];
      },
      /^write_files\[0\]\.content: not gzip/,
    ],
    [
      "gzip that expands past the limit",
      (c) => {
        const bomb = gzipSync(Buffer.alloc(MAX_USER_DATA_BYTES + 1)).toString("base64");
        c.write_files = [file({ encoding: "gzip+base64", content: bomb })];
      },
      /^write_files\[0\]\.content: gzip content expands to more than 16777216 bytes/,
    ],
    [
      "unknown encoding",
      (c) => {
        c.write_files = [file({ encoding: "rot13" })];
      },
      /^write_files\[0\]\.content: unknown encoding "rot13"/,
    ],
    [
      "bad permissions",
      (c) => {
        c.write_files = [file({ permissions: "0999" })];
      },
      /^write_files\[0\]\.permissions: .*not an octal mode/,
    ],
    [
      "unknown owner",
      (c) => {
        c.write_files = [file({ owner: "nobody2" })];
      },
      /^write_files\[0\]\.owner: .*no user "nobody2"/,
    ],
    [
      "unknown group",
      (c) => {
        c.write_files = [file({ owner: "core:wheel2" })];
      },
      /^write_files\[0\]\.owner: .*no group "wheel2"/,
    ],
    [
      "bad unit name",
      (c) => {
        c.coreos.units = [unit({ name: "foo" })];
      },
      /^coreos\.units\[0\]\.name: "foo" is not a unit name/,
    ],
    [
      "bad command",
      (c) => {
        c.coreos.units = [unit({ command: "bounce" })];
      },
      /^coreos\.units\[0\]\.command: unknown command "bounce"/,
    ],
    [
      "bad drop-in name",
      (c) => {
        c.coreos.units = [unit({ drop_ins: [{ name: "../x.conf", content: "y" }] })];
      },
      /^coreos\.units\[0\]\.drop_ins\[0\]\.name/,
    ],
    [
      "bad hostname",
      (c) => {
        c.hostname = "web_1!";
      },
      /^hostname: "web_1!" is not a host name/,
    ],
    [
      "bad user name",
      (c) => {
        c.users = [user({ name: "Bob Smith" })];
      },
      /^users\[0\]\.name: /,
    ],
    [
      "unknown group for a user",
      (c) => {
        c.users = [user({ groups: ["wheel2"] })];
      },
      /^users\[0\]\.groups: no group "wheel2"/,
    ],
  ];
  for (const [what, patch, message] of refusals) {
    it(`refuses ${what}, naming the field`, () => {
      expect(() => planCloudConfig(config(patch), ACCOUNTS)).toThrow(CloudConfigInputError);
      expect(() => planCloudConfig(config(patch), ACCOUNTS)).toThrow(message);
    });
  }

  it("an owner the document itself creates is accepted", () => {
    const plan = planCloudConfig(
      config((c) => {
        c.users = [user({ name: "svc" })];
        c.write_files = [file({ owner: "svc:svc" })];
      }),
      ACCOUNTS,
    );
    expect(types(plan.actions).slice(0, 2)).toEqual(["user", "write_file"]);
  });

  it("top-level ssh_authorized_keys need the core user", () => {
    const noCore: AccountsSnapshot = { users: [ACCOUNTS.users[0]!], groups: ACCOUNTS.groups };
    expect(() =>
      planCloudConfig(
        config((c) => {
          c.ssh_authorized_keys = ["k"];
        }),
        noCore,
      ),
    ).toThrow(/^ssh_authorized_keys: .*"core"/);
  });
});

describe("YAML leniency kept from coreos-cloudinit", () => {
  it("a quoted value continued at column 0 is read as libyaml read it", () => {
    const doc = parseUserData(
      "#cloud-config\nwrite_files:\n  - path: /x\n    content: 'a\nb\n\n  c'\nhostname: h\n",
    );
    expect(doc.tree?.syntaxError).toBeUndefined();
    expect(doc.config.write_files?.[0]?.content).toBe("a b\nc");
    expect(doc.config.hostname).toBe("h");
  });
});

describe("commandDecision (idempotent unit commands)", () => {
  it("start and stop only when the unit is not already there", () => {
    expect(commandDecision("start", true, false)).toBe("already running");
    expect(commandDecision("start", false, false)).toBeUndefined();
    expect(commandDecision("stop", false, true)).toBe("already stopped");
    expect(commandDecision("stop", true, false)).toBeUndefined();
  });
  it("restart-like commands only when the unit's files changed (or it is not running)", () => {
    expect(commandDecision("restart", true, false)).toMatch(/none of its files changed/);
    expect(commandDecision("restart", true, true)).toBeUndefined();
    expect(commandDecision("restart", false, false)).toBeUndefined();
    expect(commandDecision("try-restart", false, true)).toBe("not running");
    expect(commandDecision("reload", true, true)).toBeUndefined();
    expect(commandDecision("reload-or-try-restart", true, false)).toMatch(/none of its files/);
  });
});

function file(p: Partial<NonNullable<CloudConfig["write_files"]>[number]>) {
  return { path: "/etc/x", content: "", encoding: "", owner: "", permissions: "", ...p };
}
function unit(p: Partial<NonNullable<CloudConfig["coreos"]["units"]>[number]>) {
  return {
    name: "a.service",
    mask: false,
    enable: false,
    runtime: false,
    content: "",
    command: "",
    drop_ins: null,
    ...p,
  };
}
function user(p: Partial<NonNullable<CloudConfig["users"]>[number]>) {
  return {
    name: "bob",
    passwd: "",
    ssh_authorized_keys: null,
    coreos_ssh_import_github: "",
    coreos_ssh_import_github_users: null,
    coreos_ssh_import_url: "",
    gecos: "",
    homedir: "",
    no_create_home: false,
    primary_group: "",
    groups: null,
    no_user_group: false,
    system: false,
    no_log_init: false,
    shell: "",
    ...p,
  };
}
