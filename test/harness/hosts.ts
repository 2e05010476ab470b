/**
 * @module test/harness/hosts
 * Boots N real systemd hosts on this one machine for tests, benchmarks and the demo. A host is
 * systemd 252 as PID 1 of its own PID, mount, UTS and IPC namespaces (and optionally network
 * namespace), on an overlay of the machine's `/`, with its own machine-id, /dev, /run, /tmp,
 * cgroup subtree and D-Bus system bus (reachable from outside at `busAddress`).
 *
 * Every resource is recorded in `<baseDir>/state.json` before it is created, and `teardown()`
 * (or `cli.ts down`) replays that file: a crashed run is cleaned by the next one. Needs root.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { BOOT_SCRIPT_NAME, bootScriptText } from "./boot-script.js";
import { makeCgroupDir, planRunCgroupDirsHere, removeCgroupTree } from "./cgroups.js";
import { type CommandOptions, type CommandResult, runChecked, runCommand } from "./command.js";
import {
  assertMachineId,
  baseHostFiles,
  type HostFileContent,
  type HostFiles,
  maskInUpper,
  newMachineId,
  resolveInRoot,
  writeIntoRoot,
} from "./host-files.js";
import { mountsUnder } from "./mounts.js";
import {
  bridgeNetnsName,
  createBridgeNetns,
  createHostNetns,
  hostNetnsName,
  setHostLink,
} from "./netns.js";
import { identify, isAlive, signalIfSame, waitGone } from "./process-identity.js";
import { type HostRecord, RunStateStore, readRunState } from "./state-file.js";
import { runLiveness, sweepCrashedRuns, type TeardownReport, teardownRun } from "./teardown.js";

export type { HostFileContent, HostFiles } from "./host-files.js";
export { DEFAULT_MASKS } from "./host-files.js";
export { TEST_SUBNET } from "./netns.js";

/** Where runs go when the caller names no directory; crashed runs there are swept at boot. */
export const DEFAULT_RUNS_ROOT = "/tmp/fleet-ts-hosts";
/** The `container=` value systemd sees in every host (it switches systemd to container mode). */
export const CONTAINER_NAME = "fleet-ts-hosts";
const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_BOOT_TIMEOUT_MS = 60_000;

export interface BootHostsOptions {
  /** How many hosts (indexes 0..count-1). */
  readonly count: number;
  /** The run's directory (must be absent, empty or a previous run's); default /tmp/fleet-ts-hosts/<run id>. */
  readonly baseDir?: string;
  /** Give each host its own network namespace on a private test bridge (TEST_SUBNET). */
  readonly netns?: boolean;
  /** Extra files per host (absolute paths inside the host), written before boot. */
  readonly files?: (index: number) => HostFiles;
  /** Units to mask on top of DEFAULT_MASKS. */
  readonly masks?: readonly string[];
  /**
   * Machine paths bind-mounted read-only into every host at the same path. Needed for what
   * lies under /tmp or /run (each host has its own, empty), e.g. a checkout of this repository
   * that a host's fleetd runs from.
   */
  readonly binds?: readonly string[];
  /** Machine-id per host (32 lowercase hex); default random. */
  readonly machineId?: (index: number) => string;
  /** Host name prefix: hosts are `<prefix><index>`. Default "h". */
  readonly namePrefix?: string;
  /** Per host, from launch to `running`/`degraded`. Default 60 s. */
  readonly bootTimeoutMs?: number;
  /** The run outlives this process (CLI `up`): only an explicit `down` ends it. */
  readonly persistent?: boolean;
  /** Progress lines (boot times, teardown of an earlier run). */
  readonly log?: (line: string) => void;
}

export interface Host {
  readonly index: number;
  readonly name: string;
  readonly machineId: string;
  /** The host's systemd as the machine sees it (0 if it never started). */
  readonly pid: number;
  /** D-Bus address of the host's system bus, usable from outside (DBUS_SYSTEM_BUS_ADDRESS). */
  readonly busAddress: string;
  /** The running host's `/` seen from outside: /proc/<pid>/root. */
  readonly rootDir: string;
  /** The host's directory on the machine: overlay upper/ and work/, boot.log. */
  readonly dir: string;
  /** The overlay's upper layer: everything the host wrote, persisted across reboots. */
  readonly upperDir: string;
  /** Address on the test bridge, when the run has network namespaces. */
  readonly ip?: string;
  readonly netns?: string;
  readonly running: boolean;
}

export interface ExecOptions extends Omit<CommandOptions, "env"> {
  /** Added to the host command's small default environment (PATH, LANG). */
  readonly env?: Readonly<Record<string, string>>;
  /** Throw HostCommandError unless the command exits 0. */
  readonly check?: boolean;
}

export interface BootTimes {
  /** From the first launch until every host reached running/degraded. */
  readonly totalMs: number;
  readonly perHostMs: readonly number[];
}

/** This machine cannot host test hosts as it is (not root, a tool missing). */
export class HarnessEnvironmentError extends Error {
  override name = "HarnessEnvironmentError";
}

/** A host did not reach `running`/`degraded`; the message carries its failed units and logs. */
export class HostBootError extends Error {
  override name = "HostBootError";
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** An operation does not fit the host's current state (e.g. exec on a host that is down). */
export class HostStateError extends Error {
  override name = "HostStateError";
}

/** A command run inside a host with `check: true` failed. */
export class HostCommandError extends Error {
  override name = "HostCommandError";
  constructor(
    readonly index: number,
    readonly argv: readonly string[],
    readonly result: CommandResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
    super(
      `host ${index}: \`${argv.join(" ")}\` exited ${result.code ?? result.signal}${detail ? `: ${detail}` : ""}`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkEnvironment(netns: boolean): void {
  if (process.getuid?.() !== 0) {
    throw new HarnessEnvironmentError(
      "test hosts need root (namespaces, mounts, cgroups): run the tests as root, as CI does",
    );
  }
  const tools = [
    "/lib/systemd/systemd",
    "/usr/bin/unshare",
    "/usr/bin/nsenter",
    "/usr/bin/setpriv",
  ];
  if (netns) tools.push("/usr/sbin/ip");
  const missing = tools.filter((t) => !existsSync(t));
  if (missing.length > 0) {
    throw new HarnessEnvironmentError(
      `missing ${missing.join(", ")}: run \`bash scripts/setup.sh\` (installs systemd, dbus, util-linux, iproute2)`,
    );
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** N real systemd hosts of one run. Built by bootHosts() or, for an existing run, attachCluster(). */
export class Cluster {
  bootTimes: BootTimes = { totalMs: 0, perHostMs: [] };

  constructor(
    private readonly store: RunStateStore,
    private readonly options: { bootTimeoutMs: number; log: (line: string) => void },
  ) {}

  get runId(): string {
    return this.store.state.runId;
  }
  get baseDir(): string {
    return this.store.state.baseDir;
  }
  /** The namespace holding the test bridge (for tests that look at the wire). */
  get bridgeNetns(): string | undefined {
    return this.store.state.bridgeNetns;
  }
  get hosts(): readonly Host[] {
    return this.store.state.hosts.map((h) => this.view(h));
  }

  host(index: number): Host {
    return this.view(this.store.host(index));
  }

  private view(h: HostRecord): Host {
    const pid = h.systemd?.pid ?? 0;
    return {
      index: h.index,
      name: h.name,
      machineId: h.machineId,
      pid,
      busAddress: `unix:path=/proc/${pid}/root/run/dbus/system_bus_socket`,
      rootDir: `/proc/${pid}/root`,
      dir: h.dir,
      upperDir: path.join(h.dir, "upper"),
      ...(h.ip === undefined ? {} : { ip: h.ip }),
      ...(h.netns === undefined ? {} : { netns: h.netns }),
      running: h.systemd !== undefined && isAlive(h.systemd),
    };
  }

  private runningRecord(index: number, what: string): HostRecord & { systemd: { pid: number } } {
    const h = this.store.host(index);
    if (!h.systemd || !isAlive(h.systemd)) {
      throw new HostStateError(
        `host ${index} (${h.name}) is not running: cannot ${what}; bootHost(${index}) first`,
      );
    }
    return h as HostRecord & { systemd: { pid: number } };
  }

  /** The argv that runs `argv` inside host `index`'s namespaces (for callers that need their own stdio). */
  nsenterArgv(index: number, argv: readonly string[]): string[] {
    const h = this.runningRecord(index, `run ${argv[0] ?? "a command"}`);
    const ns = ["-m", "-u", "-i", "-p", ...(h.netns ? ["-n"] : [])];
    return ["nsenter", "-t", String(h.systemd.pid), ...ns, "--", ...argv];
  }

  /** Environment for commands in a host: small and fixed, not the test runner's. */
  hostEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
    return { PATH: HOST_PATH, LANG: "C.UTF-8", SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0", ...extra };
  }

  /** Runs argv inside host `index` (its mount, PID, UTS and network namespaces). */
  async exec(
    index: number,
    argv: readonly string[],
    opts: ExecOptions = {},
  ): Promise<CommandResult> {
    const full = this.nsenterArgv(index, argv);
    const result = await runCommand(full, {
      ...(opts.input === undefined ? {} : { input: opts.input }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      env: this.hostEnv(opts.env),
    });
    if (opts.check && result.code !== 0) throw new HostCommandError(index, argv, result);
    return result;
  }

  /** `systemctl ARGS` inside host `index`; the result is returned whatever the exit status. */
  systemctl(index: number, ...args: string[]): Promise<CommandResult> {
    return this.exec(index, ["systemctl", ...args]);
  }

  /** Writes a file into the running host (symlinks resolved as the host sees them). */
  writeFile(index: number, hostPath: string, content: string | Buffer, mode?: number): void {
    const h = this.runningRecord(index, `write ${hostPath}`);
    const root = `/proc/${h.systemd.pid}/root`;
    writeIntoRoot(root, hostPath, mode === undefined ? content : { content, mode });
  }

  /** Reads a file of the running host. */
  readFile(index: number, hostPath: string): string {
    const h = this.runningRecord(index, `read ${hostPath}`);
    return readFileSync(resolveInRoot(`/proc/${h.systemd.pid}/root`, hostPath), "utf8");
  }

  /** SIGKILL of the host's systemd: the whole host dies at once, like a power cut. */
  async killHost(index: number): Promise<void> {
    const h = this.store.host(index);
    const refs = [h.systemd, h.launcher].filter((r) => r !== undefined);
    if (h.systemd) signalIfSame(h.systemd, "SIGKILL");
    const alive = await waitGone(refs, 10_000);
    if (alive.length > 0) {
      throw new HostStateError(
        `host ${index}: process(es) ${alive.map((r) => r.pid).join(", ")} survived SIGKILL for 10 s`,
      );
    }
    this.clearHostCgroups(h);
  }

  /** Clean shutdown (`systemctl poweroff`); falls back to killHost after `timeoutMs`. */
  async stopHost(index: number, timeoutMs = 30_000): Promise<{ graceful: boolean }> {
    const h = this.store.host(index);
    if (!h.systemd || !isAlive(h.systemd)) return { graceful: true };
    await this.exec(index, ["systemctl", "poweroff", "--no-block"]);
    const left = await waitGone([h.systemd], timeoutMs);
    if (left.length > 0)
      this.options.log(`host ${index}: no poweroff after ${timeoutMs} ms; killing it`);
    await this.killHost(index);
    return { graceful: left.length === 0 };
  }

  /** Boots host `index` again (after killHost/stopHost): same disk (upper dir), fresh /run. */
  async bootHost(index: number): Promise<Host> {
    const h = this.store.host(index);
    if (h.systemd && isAlive(h.systemd)) {
      throw new HostStateError(
        `host ${index} (${h.name}) is already running (pid ${h.systemd.pid})`,
      );
    }
    await this.launch(index);
    await this.waitRunning(index);
    return this.host(index);
  }

  async cutNetwork(index: number): Promise<void> {
    await setHostLink(this.bridgeFor(index), index, false);
  }

  async healNetwork(index: number): Promise<void> {
    await setHostLink(this.bridgeFor(index), index, true);
  }

  private bridgeFor(index: number): string {
    const bridge = this.store.state.bridgeNetns;
    if (!bridge || !this.store.host(index).netns) {
      throw new HostStateError(
        `host ${index} has no network namespace: boot with { netns: true } to cut and heal networks`,
      );
    }
    return bridge;
  }

  /** Ends every host and removes every trace of the run. A second call does nothing. */
  async teardown(): Promise<TeardownReport | undefined> {
    return teardownRun(this.baseDir);
  }

  /** Boots every host that is not running, in parallel; records and returns the boot times. */
  async bootStopped(): Promise<BootTimes> {
    const t0 = performance.now();
    const stopped = this.store.state.hosts.filter((h) => !(h.systemd && isAlive(h.systemd)));
    const perHostMs = await Promise.all(
      stopped.map(async (h) => {
        await this.launch(h.index);
        await this.waitRunning(h.index);
        return Math.round(performance.now() - t0);
      }),
    );
    this.bootTimes = { totalMs: Math.round(performance.now() - t0), perHostMs };
    return this.bootTimes;
  }

  /** Removes what a previous systemd of this host left in its cgroups (v1 keeps empty dirs). */
  private clearHostCgroups(h: HostRecord): void {
    for (const d of h.cgroupDirs) removeCgroupTree(d, true);
  }

  /** Starts the host's boot script in fresh namespaces and records its PIDs. */
  private async launch(index: number): Promise<void> {
    const h = this.store.host(index);
    const pidFile = path.join(h.dir, "pid");
    rmSync(pidFile, { force: true });
    this.clearHostCgroups(h);
    for (const d of h.cgroupDirs) makeCgroupDir(d);
    const script = path.join(this.baseDir, BOOT_SCRIPT_NAME);
    const argv = [
      ...(h.netns ? ["nsenter", `--net=/run/netns/${h.netns}`, "--"] : []),
      "unshare",
      "--pid",
      "--fork",
      "--mount",
      "--uts",
      "--ipc",
      "--propagation",
      "private",
      // If the launcher dies, so does the host: no orphaned systemd outlives its record.
      "--kill-child=SIGKILL",
      "--",
      "/bin/bash",
      script,
      h.dir,
      h.name,
      CONTAINER_NAME,
      ...h.cgroupDirs,
    ];
    const log = openSync(path.join(h.dir, "boot.log"), "a");
    let child: ChildProcess;
    try {
      const [file, ...args] = argv as [string, ...string[]];
      child = spawn(file, args, {
        detached: true, // own session: the host outlives a CLI `up` and ignores the runner's ^C
        stdio: ["ignore", log, log],
        env: { PATH: HOST_PATH, LANG: "C.UTF-8" },
        cwd: "/",
      });
    } finally {
      closeSync(log);
    }
    let spawnError = "";
    child.on("error", (e) => {
      spawnError = e.message; // reported below, or by waitRunning through the missing PID file
    });
    const launcherPid = child.pid;
    if (launcherPid === undefined) {
      await sleep(0); // let the spawn error arrive
      throw new HostBootError(
        index,
        `host ${index}: cannot start \`${argv.join(" ")}\`: ${spawnError || "no PID"}; run \`bash scripts/setup.sh\``,
      );
    }
    const launcher = identify(launcherPid);
    this.store.update(() => {
      h.launcher = launcher;
      h.systemd = undefined;
    });
    child.unref();
  }

  /** Waits for the host's PID file, then for `systemctl is-system-running` = running/degraded. */
  private async waitRunning(index: number): Promise<"running" | "degraded"> {
    const h = this.store.host(index);
    const deadline = Date.now() + this.options.bootTimeoutMs;
    const pidFile = path.join(h.dir, "pid");
    const bootLog = path.join(h.dir, "boot.log");
    const fail = (why: string) =>
      new HostBootError(
        index,
        `host ${index} (${h.name}) did not boot: ${why}\nboot.log:\n${tail(bootLog, 15)}`,
      );

    let systemd = h.systemd;
    while (!systemd) {
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, "utf8").trim());
        const ref = Number.isInteger(pid) && pid > 0 ? identify(pid) : undefined;
        if (!ref) throw fail(`its boot script (pid ${pid}) exited right away`);
        this.store.update(() => {
          h.systemd = ref;
        });
        systemd = ref;
        break;
      }
      if (h.launcher && !isAlive(h.launcher))
        throw fail("the launcher exited before the boot script ran");
      if (Date.now() > deadline) throw fail("no PID file after the timeout");
      await sleep(10);
    }
    const privateSocket = `/proc/${systemd.pid}/root/run/systemd/private`;
    let lastState = "no answer";
    while (Date.now() < deadline) {
      if (!isAlive(systemd)) throw fail(`systemd (pid ${systemd.pid}) exited`);
      if (existsSync(privateSocket)) {
        const r = await this.exec(index, ["systemctl", "is-system-running", "--wait"], {
          timeoutMs: Math.max(1_000, deadline - Date.now()),
        });
        lastState =
          r.code === null
            ? "no answer from `systemctl is-system-running --wait`"
            : r.stdout.trim() || r.stderr.trim() || lastState;
        if (lastState === "running" || lastState === "degraded") return lastState;
      }
      await sleep(20);
    }
    throw fail(
      `state "${lastState}" after ${this.options.bootTimeoutMs} ms (raise bootTimeoutMs if the machine is only slow)\n${await this.diagnose(index)}`,
    );
  }

  /** Failed units, pending jobs and the journal's tail of a host that would not boot. */
  private async diagnose(index: number): Promise<string> {
    const parts: string[] = [];
    const probes: [string, string[]][] = [
      ["state now", ["systemctl", "is-system-running"]],
      ["failed units", ["systemctl", "--failed", "--plain", "--no-legend"]],
      ["pending jobs", ["systemctl", "list-jobs", "--plain", "--no-legend"]],
      ["journal", ["journalctl", "--no-pager", "-q", "-n", "30"]],
    ];
    for (const [title, argv] of probes) {
      try {
        const r = await this.exec(index, argv, { timeoutMs: 5_000 });
        parts.push(`${title}:\n${(r.stdout + r.stderr).trimEnd() || "(none)"}`);
      } catch (e) {
        parts.push(`${title}: unavailable (${(e as Error).message})`);
      }
    }
    return parts.join("\n");
  }
}

function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

/** Makes sure `dir` can hold a new run: absent, empty, or an earlier run that is not live. */
async function claimBaseDir(dir: string, log: (line: string) => void): Promise<void> {
  const previous = readRunState(dir);
  if (previous) {
    if (runLiveness(previous, isAlive) === "live") {
      throw new HostStateError(
        `${dir} holds run ${previous.runId}, still in use by pid ${previous.owner?.pid}; choose another baseDir`,
      );
    }
    log(`tearing down the earlier run ${previous.runId} in ${dir}`);
    await teardownRun(dir);
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new HostStateError(
      `${dir} is not empty and holds no harness run: choose an empty or new baseDir (the harness deletes it at teardown)`,
    );
  }
}

function writeUpperFiles(
  upper: string,
  files: Record<string, HostFileContent>,
  masks: readonly string[],
) {
  for (const unit of masks) maskInUpper(upper, unit);
  for (const [p, content] of Object.entries(files)) writeIntoRoot(upper, p, content, "/", "/");
}

/** Boots `count` hosts in parallel and waits until each runs. On failure nothing is left behind. */
export async function bootHosts(options: BootHostsOptions): Promise<Cluster> {
  const { count } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`bootHosts: count must be a positive integer, got ${count}`);
  }
  const netns = options.netns ?? false;
  checkEnvironment(netns);
  const log = options.log ?? (() => {});
  const runId = newRunId();
  const baseDir = path.resolve(options.baseDir ?? path.join(DEFAULT_RUNS_ROOT, runId));
  if (!options.baseDir) {
    const swept = await sweepCrashedRuns(DEFAULT_RUNS_ROOT);
    for (const r of swept.cleaned) {
      log(`cleaned crashed run ${r.runId} (${r.baseDir}): killed ${r.killed.length} process(es)`);
    }
    for (const f of swept.failed) {
      // Not fatal for this run (its resources are its own), but someone must look at it.
      console.warn(`fleet-ts hosts: cannot clean crashed run ${f.baseDir}: ${f.error.message}`);
    }
  }
  await claimBaseDir(baseDir, log);
  mkdirSync(baseDir, { recursive: true, mode: 0o711 });

  const prefix = options.namePrefix ?? "h";
  const tmpfs = path.join(baseDir, "hosts");
  const store = new RunStateStore({
    version: 1,
    runId,
    baseDir,
    createdAt: new Date().toISOString(),
    owner: options.persistent ? null : (identify(process.pid) ?? null),
    tmpfs,
    cgroupRunDirs: planRunCgroupDirsHere(runId),
    ...(netns ? { bridgeNetns: bridgeNetnsName(runId) } : {}),
    hosts: [],
  });
  const cluster = new Cluster(store, {
    bootTimeoutMs: options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
    log,
  });

  try {
    mkdirSync(tmpfs, { recursive: true });
    await runChecked(
      ["mount", "-t", "tmpfs", "-o", "mode=0711,size=4g", "fleet-ts-hosts", tmpfs],
      {},
      "mounting the hosts' tmpfs",
    );
    const script = path.join(baseDir, BOOT_SCRIPT_NAME);
    writeFileSync(script, bootScriptText());
    chmodSync(script, 0o755);
    for (const d of store.state.cgroupRunDirs) makeCgroupDir(d);
    const bridge = store.state.bridgeNetns;
    if (bridge) await createBridgeNetns(bridge);

    const machineIds = new Set<string>();
    for (let i = 0; i < count; i++) {
      const name = `${prefix}${i}`;
      const machineId = options.machineId?.(i) ?? newMachineId();
      assertMachineId(machineId, `host ${i}`);
      if (machineIds.has(machineId))
        throw new TypeError(`host ${i}: machine-id ${machineId} is used twice`);
      machineIds.add(machineId);
      const dir = path.join(tmpfs, name);
      const record: HostRecord = {
        index: i,
        name,
        dir,
        machineId,
        cgroupDirs: store.state.cgroupRunDirs.map((d) => path.join(d, name)),
        ...(bridge ? { netns: hostNetnsName(runId, i) } : {}),
      };
      store.update((s) => {
        s.hosts.push(record);
      });
      mkdirSync(path.join(dir, "upper"), { recursive: true });
      mkdirSync(path.join(dir, "work"));
      mkdirSync(path.join(dir, "root"));
      const base = baseHostFiles({ name, machineId, extraMasks: options.masks ?? [] });
      writeUpperFiles(
        path.join(dir, "upper"),
        { ...base.files, ...options.files?.(i) },
        base.masks,
      );
      writeFileSync(
        path.join(dir, "binds"),
        (options.binds ?? []).map((b) => `${path.resolve(b)}\n`).join(""),
      );
      if (bridge && record.netns) {
        const ip = await createHostNetns(bridge, record.netns, i);
        store.update(() => {
          record.ip = ip;
        });
      }
    }

    const times = await cluster.bootStopped();
    log(`${count} host(s) running in ${times.totalMs} ms (${times.perHostMs.join(", ")} ms)`);
    return cluster;
  } catch (e) {
    try {
      await cluster.teardown();
    } catch (t) {
      throw new AggregateError(
        [e, t],
        `${(e as Error).message}\n(and teardown failed: ${(t as Error).message})`,
      );
    }
    throw e;
  }
}

/** A Cluster for an existing run (e.g. one `cli.ts up` made), from its state file. */
export function attachCluster(
  baseDir: string,
  options: { bootTimeoutMs?: number; log?: (line: string) => void } = {},
): Cluster {
  const dir = path.resolve(baseDir);
  const state = readRunState(dir);
  if (!state)
    throw new HostStateError(`no harness run in ${dir} (no state.json): nothing is up there`);
  if (mountsUnder(state.tmpfs).length === 0) {
    throw new HostStateError(
      `run ${state.runId} in ${dir} is half torn down (its tmpfs is gone): run \`down --dir ${dir}\``,
    );
  }
  return new Cluster(new RunStateStore(state), {
    bootTimeoutMs: options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS,
    log: options.log ?? (() => {}),
  });
}
