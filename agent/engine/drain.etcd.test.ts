/**
 * Drain through the engine on a real etcd: the leader moves the non-global units off a
 * drained machine, keeps its global units there, places nothing new there, and after an
 * undrain moves nothing back (the machine fills again only through normal placement).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { memoryLogger } from "../logging/logger.js";
import type { UnitRecord } from "../registry/codecs.js";
import { MachinePresence } from "../registry/machines.js";
import { Registry } from "../registry/registry.js";
import { Engine } from "./engine.js";

const M = ["1", "2", "3"].map((c) => c.repeat(32)) as [string, string, string];
const H = "d".repeat(40);
const unit = (name: string, global = false): UnitRecord => ({
  name,
  hash: H,
  desiredState: "launched",
  options: global ? [{ section: "X-Fleet", name: "Global", value: "true" }] : [],
});

let etcd: EtcdCluster;
let registry: Registry;
let engine: Engine;
const presences: MachinePresence[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/drain/", log: memoryLogger() });
  for (const id of M) {
    presences.push(
      await MachinePresence.register({
        client: registry.client,
        kv: registry.kv,
        keys: registry.keys,
        log: registry.log,
        record: { id, publicIP: "127.0.0.1", metadata: {}, version: "t", startedAt: 0 },
        ttlSeconds: 30,
      }),
    );
  }
  engine = new Engine({
    registry,
    machineId: M[0],
    ttlSeconds: 5,
    reconcileIntervalMs: 500,
    log: memoryLogger(),
  });
  engine.start();
});

afterAll(async () => {
  await engine?.stop();
  for (const p of presences) await p.revoke().catch(() => {});
  registry?.close();
  await etcd?.stop();
});

/** unit → machines (by their first character), from etcd. */
async function placements(): Promise<Record<string, string[]>> {
  const snap = await registry.schedule.readSnapshot();
  const out: Record<string, string[]> = {};
  for (const s of snap.schedule) out[s.unit] = [...(out[s.unit] ?? []), s.machineId.slice(0, 1)];
  for (const list of Object.values(out)) list.sort();
  return out;
}

describe("(etcd) drain through the engine", () => {
  it("(etcd) moves non-global units away, keeps global ones, and moves nothing back on undrain", async () => {
    for (const n of ["a.service", "b.service", "c.service"]) await registry.units.create(unit(n));
    await registry.units.create(unit("g.service", true));
    await expect.poll(placements, { timeout: 15_000 }).toEqual({
      "a.service": ["1"],
      "b.service": ["2"],
      "c.service": ["3"],
      "g.service": ["1", "2", "3"],
    });

    await registry.drains.drain(M[0]);
    await expect.poll(placements, { timeout: 15_000 }).toMatchObject({
      "b.service": ["2"],
      "c.service": ["3"],
      "g.service": ["1", "2", "3"],
    });
    await expect
      .poll(async () => (await placements())["a.service"]?.[0], { timeout: 15_000 })
      .toMatch(/^[23]$/);
    // Nothing new lands on the drained machine, though it is the least loaded.
    await registry.units.create(unit("d.service"));
    await expect
      .poll(async () => (await placements())["d.service"]?.[0], { timeout: 15_000 })
      .toMatch(/^[23]$/);
    const drained = await placements();

    await registry.drains.undrain(M[0]);
    await engine.settled();
    await registry.units.create(unit("e.service"));
    await expect
      .poll(async () => (await placements())["e.service"], { timeout: 15_000 })
      .toEqual(["1"]);
    await engine.settled();
    const after = await placements();
    const { "e.service": _e, ...rest } = after;
    expect(rest).toEqual(drained);
  });
});
