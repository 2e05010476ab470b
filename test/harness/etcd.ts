/**
 * @module test/harness/etcd
 * A real etcd (Debian's etcd-server, 3.4) for tests and benchmarks: one member or a cluster
 * on loopback with free ports, data on tmpfs when there is one. Every process it starts is
 * kept by PID (with its start time) and killed only by that PID; each member is started under
 * `setpriv --pdeathsig` so that a test worker that dies takes its etcd with it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort as anyFreePort } from "./ports.js";
import { identify, isAlive, type ProcessRef } from "./process-identity.js";

export class EtcdHarnessError extends Error {
  override name = "EtcdHarnessError";
}

export interface EtcdOptions {
  /** Members in the cluster (default 1). */
  readonly members?: number;
  /** etcd's `--auto-compaction-retention` in revisions (mode "revision"), off by default. */
  readonly autoCompactionRevisions?: number;
  /** Serve the v2 API too (fleet v1.0.0 needs it, for side-by-side benchmarks). */
  readonly enableV2?: boolean;
  /** Extra etcd flags, e.g. ["--max-txn-ops=256"]. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for every member to report healthy (default 20 s). */
  readonly startTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** PID of the running process, undefined while stopped. */
  pid: number | undefined;
}

const ETCD_BIN = "/usr/bin/etcd";

/** Ports handed out by this process, so two clusters of one test file never share one. */
const handedOut = new Set<number>();

async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function scratchDir(): string {
  // tmpfs makes etcd's fsyncs cheap; benchmarks report that they used it.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  return mkdtempSync(join(base, "fleet-ts-etcd-"));
}

const live = new Set<EtcdCluster>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const c of live) c.killAllSync();
  });
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly #procs = new Map<
    number,
    { child: ChildProcess; ref: ProcessRef; exited: Promise<void> }
  >();
  readonly #root: string;
  readonly #opts: EtcdOptions;
  readonly #token: string;
  #stopped = false;

  private constructor(root: string, members: EtcdMember[], opts: EtcdOptions) {
    this.#root = root;
    this.members = members;
    this.#opts = opts;
    this.#token = `fleet-ts-${Date.now()}-${process.pid}`;
  }

  /** Starts a fresh cluster and waits until every member is healthy. */
  static async start(opts: EtcdOptions = {}): Promise<EtcdCluster> {
    if (!existsSync(ETCD_BIN)) {
      throw new EtcdHarnessError(
        `${ETCD_BIN} not found: install Debian's etcd-server (make setup does it)`,
      );
    }
    const n = opts.members ?? 1;
    const root = scratchDir();
    const members: EtcdMember[] = [];
    for (let i = 0; i < n; i++) {
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(root, `m${i}`),
        pid: undefined,
      });
    }
    const cluster = new EtcdCluster(root, members, opts);
    live.add(cluster);
    installExitHook();
    try {
      for (let i = 0; i < n; i++) cluster.#spawn(i, "new");
      await Promise.all(members.map((_, i) => cluster.waitHealthy(i)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Client endpoints of every member, for the etcd3 client's `hosts`. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  #spawn(i: number, state: "new" | "existing"): void {
    const m = this.members[i];
    if (m === undefined) throw new EtcdHarnessError(`no etcd member ${i}`);
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(",");
    const args = [
      "--name",
      m.name,
      "--data-dir",
      m.dataDir,
      "--listen-client-urls",
      m.clientUrl,
      "--advertise-client-urls",
      m.clientUrl,
      "--listen-peer-urls",
      m.peerUrl,
      "--initial-advertise-peer-urls",
      m.peerUrl,
      "--initial-cluster",
      initialCluster,
      "--initial-cluster-state",
      state,
      "--initial-cluster-token",
      this.#token,
      // Fast elections: a killed member's peers notice within half a second.
      "--heartbeat-interval",
      "50",
      "--election-timeout",
      "500",
      "--logger",
      "zap",
      "--log-level",
      "error",
      ...(this.#opts.autoCompactionRevisions === undefined
        ? []
        : [
            "--auto-compaction-mode",
            "revision",
            "--auto-compaction-retention",
            String(this.#opts.autoCompactionRevisions),
          ]),
      ...(this.#opts.enableV2 ? ["--enable-v2=true"] : []),
      ...(this.#opts.extraArgs ?? []),
    ];
    const usePdeath = existsSync("/usr/bin/setpriv");
    const child = usePdeath
      ? spawn("/usr/bin/setpriv", ["--pdeathsig", "SIGKILL", "--", ETCD_BIN, ...args], {
          stdio: ["ignore", "ignore", "pipe"],
        })
      : spawn(ETCD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
    const pid = child.pid;
    if (pid === undefined) throw new EtcdHarnessError(`could not start etcd member ${m.name}`);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const ref = identify(pid) ?? { pid, startTime: "0" };
    this.#procs.set(i, { child, ref, exited });
    m.pid = pid;
    child.once("exit", (code, signal) => {
      if (this.#procs.get(i)?.child === child) {
        this.#procs.delete(i);
        m.pid = undefined;
      }
      if (!this.#stopped && code !== 0 && signal === null) {
        this.#lastFailure.set(i, `etcd ${m.name} exited with ${code}: ${stderr.trim()}`);
      }
    });
  }

  readonly #lastFailure = new Map<number, string>();

  /** Resolves once member i answers /health with true. */
  async waitHealthy(i: number, timeoutMs = this.#opts.startTimeoutMs ?? 20_000): Promise<void> {
    const m = this.members[i];
    if (m === undefined) throw new EtcdHarnessError(`no etcd member ${i}`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const failure = this.#lastFailure.get(i);
      if (failure !== undefined && m.pid === undefined) throw new EtcdHarnessError(failure);
      try {
        const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === "true") return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new EtcdHarnessError(
      `etcd member ${m.name} (${m.clientUrl}) not healthy after ${timeoutMs} ms`,
    );
  }

  async #signal(i: number, signal: NodeJS.Signals): Promise<void> {
    const p = this.#procs.get(i);
    if (p === undefined) return;
    if (isAlive(p.ref)) process.kill(p.ref.pid, signal);
  }

  /** SIGKILL of member i: a crash. */
  async killMember(i: number): Promise<void> {
    const p = this.#procs.get(i);
    await this.#signal(i, "SIGKILL");
    await p?.exited;
  }

  /** SIGTERM of member i and wait for it to exit. */
  async stopMember(i: number): Promise<void> {
    const p = this.#procs.get(i);
    await this.#signal(i, "SIGTERM");
    await p?.exited;
  }

  /** Starts member i again with its data dir and ports, and waits until it is healthy. */
  async restartMember(i: number): Promise<void> {
    if (this.#procs.has(i)) await this.stopMember(i);
    this.#lastFailure.delete(i);
    this.#spawn(i, "existing");
    await this.waitHealthy(i);
  }

  /** SIGSTOP / SIGCONT: a member that hangs without closing its sockets. */
  async pauseMember(i: number): Promise<void> {
    await this.#signal(i, "SIGSTOP");
  }
  async resumeMember(i: number): Promise<void> {
    await this.#signal(i, "SIGCONT");
  }

  /** Stops every member and removes the data. Safe to call twice. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const waits: Promise<void>[] = [];
    for (const [i, p] of this.#procs) {
      if (isAlive(p.ref)) {
        process.kill(p.ref.pid, "SIGCONT");
        process.kill(p.ref.pid, "SIGKILL");
      }
      waits.push(p.exited);
      this.#procs.delete(i);
    }
    await Promise.all(waits);
    rmSync(this.#root, { recursive: true, force: true });
    live.delete(this);
  }

  /** Synchronous last resort for process exit. */
  killAllSync(): void {
    for (const p of this.#procs.values()) {
      if (isAlive(p.ref)) process.kill(p.ref.pid, "SIGKILL");
    }
    rmSync(this.#root, { recursive: true, force: true });
  }
}

export function startEtcd(opts: EtcdOptions = {}): Promise<EtcdCluster> {
  return EtcdCluster.start(opts);
}
