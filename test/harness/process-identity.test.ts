/**
 * @module test/harness/process-identity.test
 * A recorded PID must never be signalled once the number belongs to another process.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { identify, isAlive, parseProcStat, signalIfSame, waitGone } from "./process-identity.js";

describe("process identity", () => {
  it("reads state and start time after the last ')' of comm, which may hold spaces and parens", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = "S";
    fields[19] = "987654";
    const stat = `4242 (we) ird (name)) ${fields.join(" ")}`;
    expect(parseProcStat(stat)).toEqual({ state: "S", startTime: "987654" });
    expect(parseProcStat("garbage")).toBeUndefined();
  });

  it("signals a PID only while its start time matches the recorded one", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = child.pid as number;
    const ref = identify(pid);
    expect(ref).toBeDefined();
    const reused = { pid, startTime: String(BigInt(ref?.startTime ?? "0") + 1n) };
    expect(isAlive(reused)).toBe(false);
    expect(signalIfSame(reused, "SIGKILL")).toBe(false);
    expect(isAlive(ref as NonNullable<typeof ref>)).toBe(true);

    expect(signalIfSame(ref as NonNullable<typeof ref>, "SIGKILL")).toBe(true);
    expect(await waitGone([ref as NonNullable<typeof ref>], 5_000)).toEqual([]);
    expect(isAlive(ref as NonNullable<typeof ref>)).toBe(false);
  });
});
