/**
 * @module agent/api/host-commands
 * journalctl and systemctl on this host, for the journal and status routes: argument arrays,
 * never a shell (a unit name is data, not a command line). `prefix` lets a fleetd that runs
 * outside the host it drives (tests, the demo) enter it, e.g. ["nsenter", "-t", PID, "-m", "-p"].
 */
import { type ChildProcess, spawn } from "node:child_process";

export class HostCommandError extends Error {
  override name = "HostCommandError";
}

/** Largest `systemctl status` output returned (it is 10 log lines plus the unit's summary). */
const MAX_STATUS_BYTES = 1 << 20;
const STATUS_TIMEOUT_MS = 30_000;

export function journalArgv(unit: string, lines: number, follow: boolean): string[] {
  return [
    "journalctl",
    "--no-pager",
    "-u",
    unit,
    "-n",
    String(lines),
    ...(follow ? ["-f"] : []),
    "-o",
    "short",
  ];
}

export function statusArgv(unit: string): string[] {
  return ["systemctl", "status", "--no-pager", "-l", "--lines=10", unit];
}

export function spawnOnHost(prefix: readonly string[], argv: readonly string[]): ChildProcess {
  const full = [...prefix, ...argv];
  return spawn(full[0] as string, full.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "", LANG: "C.UTF-8" },
  });
}

/** Runs `systemctl status` and returns its text and exit code (3 for an inactive unit). */
export function systemctlStatus(
  prefix: readonly string[],
  unit: string,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnOnHost(prefix, statusArgv(unit));
    const out: Buffer[] = [];
    let size = 0;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), STATUS_TIMEOUT_MS);
    child.stdout?.on("data", (c: Buffer) => {
      if (size < MAX_STATUS_BYTES) out.push(c);
      size += c.length;
    });
    child.stderr?.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString("utf8");
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new HostCommandError(`cannot run systemctl on this host: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === null) {
        reject(new HostCommandError(`systemctl status ${unit} was killed (${signal})`));
        return;
      }
      const output = Buffer.concat(out).subarray(0, MAX_STATUS_BYTES).toString("utf8");
      // systemctl prints nothing on stdout when it cannot talk to systemd: say why.
      resolve({ exitCode: code, output: output === "" ? stderr : output });
    });
  });
}
