/**
 * @module test/harness/command
 * Runs one external program (ip, nsenter, umount, ...) to completion and hands back what it
 * printed. The harness drives the kernel through these small tools rather than syscalls Node
 * does not have (setns, mount, umount2); every call goes through here so that timeouts and
 * error messages are the same everywhere.
 */
import { spawn } from "node:child_process";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status; null when the program was ended by a signal (see `signal`). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CommandOptions {
  /** Written to the program's standard input, then closed. */
  readonly input?: string | Buffer;
  /** The whole environment of the program (not merged with ours). */
  readonly env?: NodeJS.ProcessEnv;
  /** SIGKILL the program (only the one we started) after this long. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A program exited non-zero (or was killed) where the caller needed it to succeed. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
  constructor(
    readonly argv: readonly string[],
    readonly result: CommandResult,
    context?: string,
  ) {
    const how =
      result.code === null
        ? `was killed by ${result.signal ?? "a signal"}`
        : `exited ${result.code}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
    super(
      `${context ? `${context}: ` : ""}\`${argv.join(" ")}\` ${how}${detail ? `: ${detail}` : ""}`,
    );
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** How long stdout/stderr may stay open after the program exited (a background child holds them). */
const DRAIN_AFTER_EXIT_MS = 200;

/**
 * Runs argv and resolves with its output whatever its exit status; rejects only if it cannot
 * start. The program gets a process group of its own, so a timeout kills it together with what
 * it forked (nsenter forks the command it runs into a host's PID namespace). The call ends when
 * the program exits, even if something it started in the background keeps its output open.
 */
export function runCommand(
  argv: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) {
    return Promise.reject(new TypeError("runCommand: argv is empty; pass at least a program name"));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      cwd: "/",
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL"); // the group is already gone; make sure the program is too
      }
    };
    const timer = setTimeout(killGroup, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code: exit.code,
        signal: exit.signal,
      });
    };
    child.on("error", (e) => {
      clearTimeout(timer);
      settled = true;
      reject(new Error(`cannot run \`${argv.join(" ")}\`: ${e.message}`));
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, DRAIN_AFTER_EXIT_MS);
    });
    child.on("close", finish);
    if (options.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        // The program may exit without reading its input (EPIPE); its exit status tells the story.
      });
      child.stdin.end(options.input);
    }
  });
}

/** Runs argv and rejects with CommandFailedError unless it exits 0. */
export async function runChecked(
  argv: readonly string[],
  options: CommandOptions = {},
  context?: string,
): Promise<CommandResult> {
  const result = await runCommand(argv, options);
  if (result.code !== 0) throw new CommandFailedError(argv, result, context);
  return result;
}
