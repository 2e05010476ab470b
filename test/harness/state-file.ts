/**
 * @module test/harness/state-file
 * The run's memory on disk: `<baseDir>/state.json` lists every resource the run creates
 * (tmpfs mount, cgroup dirs, network namespaces, host dirs, PIDs with start times). Each entry
 * is written *before* the resource is created (PIDs: right after the spawn returns), so a run
 * that crashes at any point leaves a file from which `teardownRun` removes exactly what it
 * made. Writes are atomic (write + rename) and synchronous, so concurrent host boots in one
 * process never interleave half a file.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ProcessRefSchema } from "./process-identity.js";

export const STATE_FILE_NAME = "state.json";

export const HostRecordSchema = z.object({
  index: z.number().int().nonnegative(),
  name: z.string().min(1),
  /** Host's own directory: upper/ and work/ of its overlay, boot.log, pid. */
  dir: z.string().min(1),
  machineId: z.string().regex(/^[0-9a-f]{32}$/),
  netns: z.string().optional(),
  ip: z.string().optional(),
  /** This host's cgroup directory in each hierarchy. */
  cgroupDirs: z.array(z.string()),
  /** The `unshare` we spawned (it waits for the host's PID 1). */
  launcher: ProcessRefSchema.optional(),
  /** The host's systemd (PID 1 inside, this PID outside). */
  systemd: ProcessRefSchema.optional(),
});
export type HostRecord = z.infer<typeof HostRecordSchema>;

export const RunStateSchema = z.object({
  version: z.literal(1),
  runId: z.string().regex(/^[a-z0-9-]+$/),
  baseDir: z.string().min(1),
  createdAt: z.string(),
  /** The process that owns the run; null = persistent (made by the CLI, ended by `down`). */
  owner: ProcessRefSchema.nullable(),
  /** tmpfs holding the hosts' dirs (overlay upper layers must not live on `/` itself). */
  tmpfs: z.string().min(1),
  /** This run's cgroup directory in each hierarchy (hosts' dirs are below them). */
  cgroupRunDirs: z.array(z.string()),
  /** Set when hosts have network namespaces on the run's test bridge. */
  bridgeNetns: z.string().optional(),
  hosts: z.array(HostRecordSchema),
});
export type RunState = z.infer<typeof RunStateSchema>;

/** A state file exists but cannot be used; cleanup must then be done by hand. */
export class HarnessStateError extends Error {
  override name = "HarnessStateError";
}

export const statePath = (baseDir: string) => path.join(baseDir, STATE_FILE_NAME);

/** Reads a run's state; undefined when there is no state file (nothing to clean). */
export function readRunState(baseDir: string): RunState | undefined {
  const file = statePath(baseDir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HarnessStateError(
      `${file}: not JSON (${(e as Error).message}); check /proc/self/mountinfo, \`ip netns\` and ps for leftovers of that run, then delete ${baseDir}`,
    );
  }
  const parsed = RunStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HarnessStateError(
      `${file}: field ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}; this file was not written by this harness version: clean that run by hand (mounts, \`ip netns\`, processes) and delete ${baseDir}`,
    );
  }
  return parsed.data;
}

/** The in-memory state of a live run, persisted after every change. */
export class RunStateStore {
  constructor(private current: RunState) {
    this.write();
  }

  get state(): Readonly<RunState> {
    return this.current;
  }

  host(index: number): HostRecord {
    const h = this.current.hosts.find((x) => x.index === index);
    if (!h) throw new RangeError(`run ${this.current.runId} has no host ${index}`);
    return h;
  }

  /** Applies `change` to the state and writes it to disk before returning. */
  update(change: (s: RunState) => void): void {
    change(this.current);
    this.write();
  }

  private write(): void {
    const file = statePath(this.current.baseDir);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.current, null, 2)}\n`);
    renameSync(tmp, file);
  }
}
