/**
 * @module test/harness/hosts.root.test
 * Boots real systemd hosts (needs root) and checks what the rest of the test suite relies on:
 * isolation between hosts, the system bus, crash and reboot, the private network, and that
 * teardown — including of a run whose process crashed — leaves nothing behind.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import dbus from "dbus-next";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesInTree } from "./cgroups.js";
import { bootHosts, type Cluster, DEFAULT_RUNS_ROOT, HostStateError } from "./hosts.js";
import { readMounts } from "./mounts.js";
import { netnsExists } from "./netns.js";
import { isAlive, type ProcessRef } from "./process-identity.js";
import { type RunState, readRunState } from "./state-file.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const MACHINE_IDS = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"];

/** Every process, mount, netns and dir a run recorded, to check that teardown removed them. */
function footprint(state: RunState): { procs: ProcessRef[]; netns: string[]; dirs: string[] } {
  const procs: ProcessRef[] = [];
  for (const h of state.hosts) {
    if (h.systemd) procs.push(h.systemd);
    if (h.launcher) procs.push(h.launcher);
  }
  for (const dir of state.cgroupRunDirs) {
    for (const pid of processesInTree(dir)) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
      procs.push({ pid, startTime });
    }
  }
  const netns = [
    ...state.hosts.flatMap((h) => (h.netns ? [h.netns] : [])),
    ...(state.bridgeNetns ? [state.bridgeNetns] : []),
  ];
  return { procs, netns, dirs: [state.baseDir, ...state.cgroupRunDirs] };
}

function expectNothingLeft(fp: ReturnType<typeof footprint>, baseDir: string): void {
  expect(fp.procs.filter(isAlive)).toEqual([]);
  expect(readMounts().filter((m) => m.mountPoint.startsWith(baseDir))).toEqual([]);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(baseDir);
  expect(fp.netns.filter(netnsExists)).toEqual([]);
  expect(fp.dirs.filter((d) => existsSync(d))).toEqual([]);
}

describe("(root) test hosts: two hosts on the machine's network", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await bootHosts({
      count: 2,
      machineId: (i) => MACHINE_IDS[i] ?? "",
      files: (i) => ({
        "/etc/fleet-ts/probe": `host ${i}\n`,
        "/etc/systemd/system/fts-enabled.service":
          "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
        "/etc/systemd/system/multi-user.target.wants/fts-enabled.service": {
          symlink: "/etc/systemd/system/fts-enabled.service",
        },
      }),
      bootTimeoutMs: 45_000,
    });
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it("runs systemd as PID 1 of each host, which reaches `running` with no failed unit", async () => {
    expect(cluster.hosts).toHaveLength(2);
    for (const h of cluster.hosts) {
      expect(h.running).toBe(true);
      expect(readFileSync(`/proc/${h.pid}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m);
      const state = await cluster.systemctl(h.index, "is-system-running");
      expect(state.stdout.trim()).toBe("running");
      const who = await cluster.exec(h.index, ["sh", "-c", "cat /proc/1/comm; hostname"]);
      expect(who.stdout).toBe(`systemd\n${h.name}\n`);
      const enabled = await cluster.systemctl(h.index, "is-active", "fts-enabled.service");
      expect(enabled.stdout.trim()).toBe("active");
      const etcd = await cluster.systemctl(h.index, "is-enabled", "etcd.service");
      expect(etcd.stdout.trim()).toBe("masked");
    }
  });

  it("gives each host the distinct machine-id it was given", async () => {
    for (const h of cluster.hosts) {
      expect(h.machineId).toBe(MACHINE_IDS[h.index]);
      expect(cluster.readFile(h.index, "/etc/machine-id")).toBe(`${h.machineId}\n`);
      const inside = await cluster.exec(h.index, ["cat", "/etc/machine-id"], { check: true });
      expect(inside.stdout.trim()).toBe(h.machineId);
      expect(cluster.readFile(h.index, "/etc/fleet-ts/probe")).toBe(`host ${h.index}\n`);
    }
    expect(readFileSync("/etc/machine-id", "utf8").trim()).not.toBe(MACHINE_IDS[0]);
  });

  it("serves each host's system bus at busAddress (dbus-daemon, not systemd's private socket)", async () => {
    for (const h of cluster.hosts) {
      const socket = h.busAddress.replace(/^unix:path=/, "");
      expect(statSync(socket).isSocket()).toBe(true);
      const bus = dbus.sessionBus({ busAddress: h.busAddress });
      try {
        const obj = await bus.getProxyObject(
          "org.freedesktop.systemd1",
          "/org/freedesktop/systemd1",
        );
        const props = obj.getInterface<
          dbus.ClientInterface & { Get(iface: string, prop: string): Promise<dbus.Variant> }
        >("org.freedesktop.DBus.Properties");
        const version = await props.Get("org.freedesktop.systemd1.Manager", "Version");
        expect(version.value).toMatch(/^252/);
      } finally {
        bus.disconnect();
      }
    }
  });

  it("keeps a unit started in host 0 invisible to host 1, in its own cgroup subtree", async () => {
    await cluster.exec(0, ["systemd-run", "--unit=fts-probe", "sleep", "300"], { check: true });
    expect((await cluster.systemctl(0, "is-active", "fts-probe.service")).stdout.trim()).toBe(
      "active",
    );
    const other = await cluster.systemctl(1, "status", "fts-probe.service");
    expect(other.code).toBe(4); // "no such unit"
    const state = readRunState(cluster.baseDir);
    const [h0, h1] = state?.hosts ?? [];
    const systemdTree = (dirs: readonly string[] | undefined) =>
      dirs?.find((d) => d.includes("/systemd/")) ?? "";
    expect(
      existsSync(path.join(systemdTree(h0?.cgroupDirs), "system.slice/fts-probe.service")),
    ).toBe(true);
    expect(
      existsSync(path.join(systemdTree(h1?.cgroupDirs), "system.slice/fts-probe.service")),
    ).toBe(false);
  });

  it("writes a file into one host only, resolving the host's own symlinks", async () => {
    cluster.writeFile(0, "/etc/fleet-ts/only-h0", "zero\n", 0o600);
    expect((await cluster.exec(0, ["stat", "-c", "%a %s", "/etc/fleet-ts/only-h0"])).stdout).toBe(
      "600 5\n",
    );
    expect((await cluster.exec(1, ["test", "-e", "/etc/fleet-ts/only-h0"])).code).toBe(1);
    expect(existsSync("/etc/fleet-ts/only-h0")).toBe(false);
    // /var/run -> /run inside the host: the file must land in the host's tmpfs /run.
    cluster.writeFile(0, "/var/run/fts-probe", "run\n");
    expect((await cluster.exec(0, ["cat", "/run/fts-probe"])).stdout).toBe("run\n");
    expect(existsSync("/run/fts-probe")).toBe(false);
  });

  it("kills a host like a power cut and boots it again with the same disk and machine-id", async () => {
    cluster.writeFile(1, "/var/lib/fts-survives", "disk\n");
    const before = cluster.host(1);
    await cluster.killHost(1);
    expect(cluster.host(1).running).toBe(false);
    expect(existsSync(`/proc/${before.pid}/root/run`)).toBe(false);
    await expect(cluster.exec(1, ["true"])).rejects.toBeInstanceOf(HostStateError);
    expect(cluster.host(0).running).toBe(true);

    const again = await cluster.bootHost(1);
    expect(again.pid).not.toBe(before.pid);
    expect(again.machineId).toBe(before.machineId);
    expect(cluster.readFile(1, "/var/lib/fts-survives")).toBe("disk\n");
    expect(cluster.readFile(1, "/etc/machine-id")).toBe(`${before.machineId}\n`);
    expect((await cluster.systemctl(1, "is-system-running")).stdout.trim()).toBe("running");
  });

  it("powers a host off cleanly with stopHost", async () => {
    const { graceful } = await cluster.stopHost(1);
    expect(graceful).toBe(true);
    expect(cluster.host(1).running).toBe(false);
  });

  it("tears down without leaving a process, mount, cgroup or dir; a second teardown is a no-op", async () => {
    const state = readRunState(cluster.baseDir);
    expect(state).toBeDefined();
    const fp = footprint(state as RunState);
    expect(fp.procs.filter(isAlive).length).toBeGreaterThan(0);
    const report = await cluster.teardown();
    expect(report?.runId).toBe(cluster.runId);
    expectNothingLeft(fp, cluster.baseDir);
    expect(await cluster.teardown()).toBeUndefined();
  });
});

describe("(root) test hosts: private network namespaces", () => {
  let cluster: Cluster;
  const runsRoot = mkdtempSync(path.join(os.tmpdir(), "fts-hosts-netns-"));

  beforeAll(async () => {
    cluster = await bootHosts({
      count: 2,
      netns: true,
      baseDir: path.join(runsRoot, "run"),
      bootTimeoutMs: 45_000,
    });
  });
  afterAll(async () => {
    await cluster?.teardown();
    rmSync(runsRoot, { recursive: true, force: true });
  });

  /** What host 0 reads from port 7000 of `ip` within `seconds` ("" when it cannot connect). */
  const fetchFromHost0 = (ip: string, seconds = 2) =>
    cluster.exec(0, [
      "timeout",
      String(seconds),
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${ip}/7000 && cat <&3`,
    ]);

  it("gives each host only lo and eth0 on the test subnet, with no route out", async () => {
    for (const h of cluster.hosts) {
      expect(h.ip).toBe(`10.254.77.${10 + h.index}`);
      const links = await cluster.exec(h.index, ["ip", "-br", "addr"], { check: true });
      expect(links.stdout).toMatch(new RegExp(`^eth0@\\S+\\s+UP\\s+${h.ip}/24`, "m"));
      expect(links.stdout.split("\n").filter(Boolean)).toHaveLength(2);
      const routes = await cluster.exec(h.index, ["ip", "route"], { check: true });
      expect(routes.stdout.trim()).toBe(
        `10.254.77.0/24 dev eth0 proto kernel scope link src ${h.ip}`,
      );
    }
  });

  it("connects hosts over the bridge, cuts one host off and heals it", async () => {
    const ip1 = cluster.host(1).ip ?? "";
    const server = `require("net").createServer((s) => s.end("pong")).listen(7000, "${ip1}")`;
    await cluster.exec(1, ["systemd-run", "--unit=fts-pong", "/usr/bin/node", "-e", server], {
      check: true,
    });
    let reply = "";
    for (let i = 0; i < 50 && reply !== "pong"; i++) {
      reply = (await fetchFromHost0(ip1)).stdout;
      if (reply !== "pong") await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply).toBe("pong");

    await cluster.cutNetwork(1);
    const cut = await fetchFromHost0(ip1, 1);
    expect(cut.stdout).toBe("");
    expect(cut.code).not.toBe(0);

    await cluster.healNetwork(1);
    expect((await fetchFromHost0(ip1)).stdout).toBe("pong");
  });

  it("removes the namespaces and the bridge at teardown", async () => {
    const fp = footprint(readRunState(cluster.baseDir) as RunState);
    expect(fp.netns.filter(netnsExists)).toHaveLength(3);
    await cluster.teardown();
    expectNothingLeft(fp, cluster.baseDir);
  });
});

describe("(root) test hosts: cleaning a crashed run", () => {
  const runsRoot = mkdtempSync(path.join(os.tmpdir(), "fts-hosts-crash-"));
  const baseDir = path.join(runsRoot, "run");
  afterAll(() => {
    rmSync(runsRoot, { recursive: true, force: true });
  });

  /** Runs a process that boots hosts and dies without tearing them down; returns its run's dir. */
  function crashAfterBoot(options: string): string {
    const script = `
      import { bootHosts } from ${JSON.stringify(path.join(REPO, "test/harness/hosts.ts"))};
      const cluster = await bootHosts(${options});
      console.log(cluster.baseDir);
      process.exit(0);`;
    const crashed = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { cwd: REPO, encoding: "utf8", timeout: 60_000 },
    );
    expect(crashed.status, crashed.stderr).toBe(0);
    return crashed.stdout.trim();
  }

  it("`cli.ts down` removes what a process that died without teardown left running", async () => {
    crashAfterBoot(`{ count: 1, netns: true, baseDir: ${JSON.stringify(baseDir)} }`);
    const state = readRunState(baseDir) as RunState;
    expect(state.owner && isAlive(state.owner)).toBe(false);
    const fp = footprint(state);
    expect(fp.procs.filter(isAlive).length).toBeGreaterThanOrEqual(2);
    expect(fp.netns.filter(netnsExists)).toHaveLength(2);

    const down = spawn(
      process.execPath,
      ["--import", "tsx", path.join(REPO, "test/harness/cli.ts"), "down", "--dir", baseDir],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    down.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => down.on("close", resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`run ${state.runId} down: killed \\d+ process`));
    expectNothingLeft(fp, baseDir);
  });

  it("bootHosts cleans a crashed run it finds in the default runs root", async () => {
    const crashedDir = crashAfterBoot("{ count: 1 }");
    expect(path.dirname(crashedDir)).toBe(DEFAULT_RUNS_ROOT);
    const fp = footprint(readRunState(crashedDir) as RunState);
    expect(fp.procs.filter(isAlive).length).toBeGreaterThanOrEqual(2);

    const next = await bootHosts({ count: 1, bootTimeoutMs: 45_000 });
    try {
      expectNothingLeft(fp, crashedDir);
      expect(next.host(0).running).toBe(true);
    } finally {
      await next.teardown();
    }
  });
});
