/**
 * @module test/harness/process-identity
 * A PID alone does not name a process for long: once it exits the kernel hands the number to
 * the next process. The harness therefore records a PID together with its start time (field 22
 * of /proc/<pid>/stat, clock ticks since boot) and only ever signals a PID whose start time
 * still matches: a crashed run's state file can then be replayed days later without killing
 * whatever now wears the number.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

export const ProcessRefSchema = z.object({
  pid: z.number().int().positive(),
  /** /proc/<pid>/stat field 22 (starttime), kept as a string: it can exceed 2^53 in theory. */
  startTime: z.string().regex(/^\d+$/),
});
export type ProcessRef = z.infer<typeof ProcessRefSchema>;

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** Parses /proc/<pid>/stat text; comm (field 2) may hold spaces and parentheses, so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(" ");
  // fields[0] is field 3 (state); starttime is field 22.
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined; // no such process (ENOENT/ESRCH): that is the answer, not an error
  }
}

/** The identity of a running process now, or undefined if there is none with that PID. */
export function identify(pid: number): ProcessRef | undefined {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime } : undefined;
}

/**
 * True while the process recorded in `ref` still runs (a zombie counts as gone: it runs
 * nothing and only waits for its parent to reap it).
 */
export function isAlive(ref: ProcessRef): boolean {
  const stat = readStat(ref.pid);
  return stat !== undefined && stat.startTime === ref.startTime && stat.state !== "Z";
}

/** Sends `signal` to the recorded process if, and only if, it is still that process. */
export function signalIfSame(ref: ProcessRef, signal: NodeJS.Signals): boolean {
  if (!isAlive(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false; // exited between the check and the signal
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until none of `refs` is alive; resolves with those still alive at the deadline. */
export async function waitGone(
  refs: readonly ProcessRef[],
  timeoutMs: number,
): Promise<ProcessRef[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = refs.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(20);
    alive = alive.filter(isAlive);
  }
  return alive;
}
