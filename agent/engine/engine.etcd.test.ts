import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { memoryLogger } from "../logging/logger.js";
import type { MachineRecord, UnitRecord } from "../registry/codecs.js";
import { MachinePresence } from "../registry/machines.js";
import { Registry } from "../registry/registry.js";
import { Engine } from "./engine.js";

const M1 = "1".repeat(32);
const M2 = "2".repeat(32);
const H = "c".repeat(40);
const machine = (id: string): MachineRecord => ({
  id,
  publicIP: "127.0.0.1",
  metadata: {},
  version: "t",
  startedAt: 0,
});
const unit = (name: string, global = false): UnitRecord => ({
  name,
  hash: H,
  desiredState: "launched",
  options: global ? [{ section: "X-Fleet", name: "Global", value: "true" }] : [],
});

let etcd: EtcdCluster;
const cleanups: (() => unknown)[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await etcd?.stop();
});

function registry(prefix: string): Registry {
  const r = new Registry({ endpoints: etcd.endpoints, prefix, log: memoryLogger() });
  cleanups.push(() => r.close());
  return r;
}

async function present(r: Registry, id: string, ttlSeconds = 1): Promise<MachinePresence> {
  const p = await MachinePresence.register({
    client: r.client,
    kv: r.kv,
    keys: r.keys,
    log: r.log,
    record: machine(id),
    ttlSeconds,
  });
  cleanups.push(() => p.revoke().catch(() => {}));
  return p;
}

async function placements(r: Registry): Promise<Record<string, string[]>> {
  const snap = await r.schedule.readSnapshot();
  const out: Record<string, string[]> = {};
  for (const s of snap.schedule) out[s.unit] = [...(out[s.unit] ?? []), s.machineId.slice(0, 1)];
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** An engine in its own process, so it can be SIGKILLed or SIGSTOPped for real. */
class EngineProcess {
  readonly lines: { at: number; text: string }[] = [];
  readonly child: ChildProcess;
  constructor(prefix: string, machineId: string, ttl: number) {
    const script = fileURLToPath(new URL("../../test/harness/engine-process.ts", import.meta.url));
    const args = [
      "--import",
      "tsx",
      script,
      etcd.endpoints.join(","),
      prefix,
      machineId,
      String(ttl),
    ];
    this.child = existsSync("/usr/bin/setpriv")
      ? spawn("/usr/bin/setpriv", ["--pdeathsig", "SIGKILL", "--", process.execPath, ...args], {
          stdio: ["ignore", "pipe", "inherit"],
        })
      : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    this.child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        this.lines.push({ at: Date.now(), text: buf.slice(0, nl) });
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    });
    cleanups.push(() => this.kill());
  }
  saw(text: string, after = 0): boolean {
    return this.lines.some((l) => l.at >= after && l.text.includes(text));
  }
  firstAt(text: string, after = 0): number | undefined {
    return this.lines.find((l) => l.at >= after && l.text.includes(text))?.at;
  }
  signal(sig: NodeJS.Signals): void {
    const alive = this.child.exitCode === null && this.child.signalCode === null;
    if (!alive || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, sig);
    } catch {
      // exited between the check and the signal: nothing left to stop
    }
  }
  kill(): void {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
  }
}

describe("(etcd) engine", () => {
  it("(etcd) schedules units, writes nothing while nothing changes, and moves a dead machine's units", async () => {
    const r = registry("/e1/");
    await present(r, M1);
    const m2 = await present(r, M2);
    const log = memoryLogger();
    const engine = new Engine({
      registry: r,
      machineId: M1,
      ttlSeconds: 1,
      reconcileIntervalMs: 100,
      log,
    });
    cleanups.push(() => engine.stop());
    engine.start();
    for (const u of ["a.service", "b.service", "c.service", "d.service"])
      await r.units.create(unit(u));
    await r.units.create(unit("g.service", true));
    await expect
      .poll(() => placements(r), { timeout: 10_000 })
      .toEqual({
        "a.service": ["1"],
        "b.service": ["2"],
        "c.service": ["1"],
        "d.service": ["2"],
        "g.service": ["1", "2"],
      });

    await engine.settled();
    const before = { ...engine.stats };
    await new Promise((res) => setTimeout(res, 1000)); // 10 safety-net intervals
    expect(engine.stats.writingPasses).toBe(before.writingPasses);
    expect(engine.stats.transactions).toBe(before.transactions);

    m2.close(); // the machine dies: its lease expires within 1 s
    await expect
      .poll(() => placements(r), { timeout: 10_000, interval: 100 })
      .toEqual({
        "a.service": ["1"],
        "b.service": ["1"],
        "c.service": ["1"],
        "d.service": ["1"],
        "g.service": ["1"],
      });
    await engine.stop();
  });

  it("(etcd) a killed leader is replaced within the election TTL", async () => {
    const ttl = 2;
    const a = new EngineProcess("/e2/", M1, ttl);
    await expect.poll(() => a.saw("elected engine leader"), { timeout: 20_000 }).toBe(true);
    const b = new EngineProcess("/e2/", M2, ttl);
    await expect.poll(() => b.saw("READY"), { timeout: 20_000 }).toBe(true);
    await new Promise((res) => setTimeout(res, 500)); // b is campaigning
    expect(b.saw("elected engine leader")).toBe(false);
    const killedAt = Date.now();
    a.signal("SIGKILL");
    await expect
      .poll(() => b.saw("elected engine leader"), { timeout: 10_000, interval: 50 })
      .toBe(true);
    const took = (b.firstAt("elected engine leader") as number) - killedAt;
    // etcd expires the lease at most TTL after the last keepalive; allow for delivery.
    expect(took).toBeLessThan(ttl * 1000 + 500);
    b.kill();
  }, 60_000);

  it("(etcd) a paused ex-leader resumed after its lease expired writes no schedule", async () => {
    const ttl = 1;
    const r = registry("/e3/");
    await present(r, M1, 5);
    await present(r, M2, 5);
    const a = new EngineProcess("/e3/", M1, ttl);
    await expect.poll(() => a.saw("elected engine leader"), { timeout: 20_000 }).toBe(true);
    const b = new EngineProcess("/e3/", M2, ttl);
    await expect.poll(() => b.saw("READY"), { timeout: 20_000 }).toBe(true);
    await r.units.create(unit("first.service"));
    await expect.poll(() => placements(r), { timeout: 10_000 }).toEqual({ "first.service": ["1"] });

    a.signal("SIGSTOP");
    await expect
      .poll(() => b.saw("elected engine leader"), { timeout: 10_000, interval: 50 })
      .toBe(true);
    // While a sleeps, the cluster changes under the new leader.
    await r.units.create(unit("second.service"));
    await r.units.create(unit("third.service"));
    await expect
      .poll(() => placements(r), { timeout: 10_000 })
      .toEqual({ "first.service": ["1"], "second.service": ["2"], "third.service": ["1"] });

    const resumedAt = Date.now();
    a.signal("SIGCONT");
    await expect
      .poll(() => a.saw("no longer the engine leader", resumedAt) || a.saw("fenced", resumedAt), {
        timeout: 10_000,
      })
      .toBe(true);
    await new Promise((res) => setTimeout(res, 1000));
    expect(a.saw("engine pass wrote changes", resumedAt)).toBe(false);
    expect(await placements(r)).toEqual({
      "first.service": ["1"],
      "second.service": ["2"],
      "third.service": ["1"],
    });
    a.kill();
    b.kill();
  }, 60_000);
});
