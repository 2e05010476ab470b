/**
 * @module test/harness/command.test
 * A command must end when its program ends, and a timeout must take its children with it.
 */
import { describe, expect, it } from "vitest";
import { CommandFailedError, runChecked, runCommand } from "./command.js";
import { identify, waitGone } from "./process-identity.js";

describe("runCommand", () => {
  it("returns output and status, and passes standard input", async () => {
    const r = await runCommand(["sh", "-c", "cat; echo err >&2; exit 3"], { input: "in\n" });
    expect(r).toEqual({ stdout: "in\n", stderr: "err\n", code: 3, signal: null });
  });

  it("ends when the program exits even if a background child keeps its output open", async () => {
    const t0 = Date.now();
    const r = await runCommand(["sh", "-c", "sleep 2 & echo started"]);
    expect(r.stdout).toBe("started\n");
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("kills the program and what it forked at the timeout", async () => {
    const r = await runCommand(["sh", "-c", "sleep 5 & echo $!; wait"], { timeoutMs: 300 });
    expect(r.signal).toBe("SIGKILL");
    const child = Number(r.stdout.trim());
    expect(Number.isInteger(child) && child > 0).toBe(true);
    const ref = identify(child);
    expect(ref === undefined || (await waitGone([ref], 2_000)).length === 0).toBe(true);
  });

  it("names the command, its status and its stderr when a checked run fails", async () => {
    const failed = runChecked(["sh", "-c", "echo nope >&2; exit 2"], {}, "probing");
    await expect(failed).rejects.toBeInstanceOf(CommandFailedError);
    await expect(failed).rejects.toThrow("probing: `sh -c echo nope >&2; exit 2` exited 2: nope");
  });
});
