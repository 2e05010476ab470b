/**
 * @module test/harness/teardown
 * Undoes a run from its state file alone, so the same code ends a live cluster, a crashed
 * test's leftovers and a CLI cluster from another shell. Idempotent: every step first checks
 * whether its resource still exists, and a second call finds no state file and does nothing.
 * Processes are only ever killed when they are provably ours: a recorded PID whose start time
 * still matches, or a process sitting in this run's cgroup subtree. Never by name.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import {
  hierarchyOf,
  isProcessInTree,
  processesInTree,
  removeCgroupTree,
  removeIfEmpty,
} from "./cgroups.js";
import { mountsUnder, unmountAllUnder } from "./mounts.js";
import { deleteNetns, netnsExists } from "./netns.js";
import { identify, isAlive, type ProcessRef, signalIfSame, waitGone } from "./process-identity.js";
import { type HostRecord, type RunState, readRunState, STATE_FILE_NAME } from "./state-file.js";

export interface TeardownReport {
  readonly baseDir: string;
  readonly runId: string;
  /** PIDs we sent SIGKILL to. */
  readonly killed: number[];
  readonly netnsDeleted: string[];
  readonly unmounted: string[];
}

/** Some resource of a run could not be removed; the message lists each with what to do. */
export class TeardownError extends Error {
  override name = "TeardownError";
  constructor(
    readonly baseDir: string,
    readonly leftovers: readonly string[],
  ) {
    super(
      `teardown of ${baseDir} left ${leftovers.length} thing(s) behind:\n  ${leftovers.join("\n  ")}\n` +
        `The state file stays, so \`npx tsx test/harness/cli.ts down --dir ${baseDir}\` retries.`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host's systemd PID as its boot script wrote it, if that process is in the host's cgroup. */
export function pidFromPidFile(host: HostRecord): ProcessRef | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(host.dir, "pid"), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // No start time was recorded with this PID: trust it only while it sits in our cgroup.
  const inOurTree = host.cgroupDirs.some((d) => isProcessInTree(pid, d, hierarchyOf(d)));
  return inOurTree ? identify(pid) : undefined;
}

/** Every live process of the run that sits in one of its cgroup dirs, identified now. */
function processesInRunTree(state: RunState): ProcessRef[] {
  const refs: ProcessRef[] = [];
  for (const dir of state.cgroupRunDirs) {
    const mount = hierarchyOf(dir);
    for (const pid of processesInTree(dir)) {
      if (pid === process.pid) continue;
      if (!isProcessInTree(pid, dir, mount)) continue;
      const ref = identify(pid);
      if (ref && !refs.some((r) => r.pid === pid)) refs.push(ref);
    }
  }
  return refs;
}

/**
 * Kills every process of the run: the hosts' systemd first (the kernel then kills the rest of
 * each host's PID namespace), then anything left in the run's cgroups, then the launchers.
 */
async function killRunProcesses(state: RunState, killed: number[]): Promise<string[]> {
  const kill = (ref: ProcessRef | undefined) => {
    if (ref && signalIfSame(ref, "SIGKILL") && !killed.includes(ref.pid)) killed.push(ref.pid);
  };
  const watch: ProcessRef[] = [];
  for (const h of state.hosts) {
    for (const ref of [h.systemd, pidFromPidFile(h)]) {
      if (!ref) continue;
      kill(ref);
      watch.push(ref);
    }
  }
  await waitGone(watch, 5_000);
  const deadline = Date.now() + 5_000;
  let inTree = processesInRunTree(state);
  while (inTree.length > 0 && Date.now() < deadline) {
    for (const ref of inTree) kill(ref);
    await waitGone(inTree, 1_000);
    inTree = processesInRunTree(state);
  }
  const launchers = state.hosts.flatMap((h) => (h.launcher ? [h.launcher] : []));
  for (const ref of launchers) kill(ref);
  const alive = [...(await waitGone([...watch, ...launchers], 5_000)), ...inTree.filter(isAlive)];
  return alive.map((r) => `process ${r.pid} still alive after SIGKILL (see /proc/${r.pid}/status)`);
}

async function removeRunCgroups(state: RunState): Promise<string[]> {
  const deadline = Date.now() + 5_000;
  let failed: string[] = [];
  do {
    // v1 cgroups stay busy for a moment after their last task died.
    failed = state.cgroupRunDirs.flatMap((d) => removeCgroupTree(d));
    if (failed.length === 0) break;
    await sleep(50);
  } while (Date.now() < deadline);
  for (const d of state.cgroupRunDirs) removeIfEmpty(path.dirname(d));
  return failed.map(
    (d) => `cgroup dir ${d} (rmdir failed: processes in it? cat ${d}/cgroup.procs)`,
  );
}

/**
 * Deletes the run's dir; only called once nothing is mounted below it (a recursive delete
 * would otherwise reach into the mounts). The state file goes last, so an interrupted delete
 * can be retried. Another process tearing the same run down at once is not an error.
 */
function removeRunDir(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (const entry of entries) {
    if (entry !== STATE_FILE_NAME) rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Tears down the run recorded in `<baseDir>/state.json`. Resolves undefined when there is no
 * such run (nothing to do); throws TeardownError if anything could not be removed.
 */
export async function teardownRun(baseDir: string): Promise<TeardownReport | undefined> {
  const dir = path.resolve(baseDir);
  const state = readRunState(dir);
  if (!state) return undefined;
  const killed: number[] = [];
  const leftovers = await killRunProcesses(state, killed);

  const netnsDeleted: string[] = [];
  const names = [
    ...state.hosts.flatMap((h) => (h.netns ? [h.netns] : [])),
    ...(state.bridgeNetns ? [state.bridgeNetns] : []),
  ];
  for (const name of names) {
    if (!netnsExists(name)) continue;
    try {
      await deleteNetns(name);
      netnsDeleted.push(name);
    } catch (e) {
      leftovers.push((e as Error).message);
    }
  }

  leftovers.push(...(await removeRunCgroups(state)));

  const unmounted = mountsUnder(dir).map((m) => m.mountPoint);
  const stillMounted = await unmountAllUnder(dir);
  leftovers.push(...stillMounted.map((m) => `mount ${m} (try \`umount -l ${m}\`)`));

  if (leftovers.length > 0) throw new TeardownError(dir, leftovers);
  removeRunDir(dir);
  return { baseDir: dir, runId: state.runId, killed, netnsDeleted, unmounted };
}

/** Why a run under a shared root may (or may not) be cleaned by someone who did not start it. */
export type RunLiveness = "persistent" | "live" | "crashed";

/** Pure: a run whose owner process is gone crashed; one without an owner is a CLI cluster. */
export function runLiveness(
  state: Pick<RunState, "owner">,
  alive: (ref: ProcessRef) => boolean,
): RunLiveness {
  if (state.owner === null) return "persistent";
  return alive(state.owner) ? "live" : "crashed";
}

/** The run directories (those holding a state file) directly under `root`. */
export function listRunDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(root, e.name, STATE_FILE_NAME)))
    .map((e) => path.join(root, e.name));
}

export interface SweepResult {
  readonly cleaned: TeardownReport[];
  /** Runs that could not be cleaned (damaged state file, busy resource), with the reason. */
  readonly failed: { readonly baseDir: string; readonly error: Error }[];
}

/**
 * Tears down every crashed run (owner gone) under `root`; live and persistent runs are left
 * alone. One run that cannot be cleaned does not stop the others: it is reported in `failed`.
 */
export async function sweepCrashedRuns(root: string): Promise<SweepResult> {
  const result: SweepResult = { cleaned: [], failed: [] };
  for (const dir of listRunDirs(root)) {
    try {
      const state = readRunState(dir);
      if (!state || runLiveness(state, isAlive) !== "crashed") continue;
      const report = await teardownRun(dir);
      if (report) result.cleaned.push(report);
    } catch (e) {
      result.failed.push({ baseDir: dir, error: e as Error });
    }
  }
  return result;
}
