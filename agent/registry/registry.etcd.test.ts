import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "../../test/harness/etcd.js";
import { memoryLogger } from "../logging/logger.js";
import type { MachineRecord, UnitRecord } from "./codecs.js";
import { ConflictError, CorruptValueError, FencedError, NotFoundError } from "./errors.js";
import { LeaseKeeper, monotonicNow } from "./leases.js";
import { MachinePresence } from "./machines.js";
import { Registry } from "./registry.js";
import type { ScheduleChange } from "./schedule.js";
import type { WatchEvent } from "./watch.js";

const HASH = "a".repeat(40);
const HASH2 = "b".repeat(40);
const M1 = "1".repeat(32);
const M2 = "2".repeat(32);

function unit(name: string, desiredState: UnitRecord["desiredState"] = "launched"): UnitRecord {
  return {
    name,
    options: [{ section: "Service", name: "ExecStart", value: "/bin/sleep 1000" }],
    hash: HASH,
    desiredState,
  };
}

function machine(id: string, metadata: Record<string, string> = {}): MachineRecord {
  return { id, publicIP: "10.0.0.1", metadata, version: "test", startedAt: 1 };
}

let etcd: EtcdCluster;
let prefixN = 0;
const registries: Registry[] = [];
function registry(log = memoryLogger()): Registry {
  const r = new Registry({ endpoints: etcd.endpoints, prefix: `/t${prefixN++}/`, log });
  registries.push(r);
  return r;
}

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const r of registries) r.close();
  await etcd?.stop();
});

describe("(etcd) units", () => {
  it("(etcd) creates, reads, changes desired state and destroys a unit", async () => {
    const r = registry();
    await r.units.create(unit("a.service", "inactive"));
    expect((await r.units.get("a.service"))?.value.desiredState).toBe("inactive");
    await r.units.setDesiredState("a.service", "launched");
    expect((await r.units.get("a.service"))?.value.desiredState).toBe("launched");
    await r.units.destroy("a.service");
    expect(await r.units.get("a.service")).toBeUndefined();
    await expect(r.units.destroy("a.service")).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.units.setDesiredState("a.service", "loaded")).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it("(etcd) a guarded destroy: conflict when changed since, not found when gone, and nothing deleted on failure", async () => {
    const r = registry();
    await r.units.create(unit("g.service", "inactive"));
    const read = await r.units.get("g.service");
    await r.units.setDesiredState("g.service", "launched");
    const guard = { ifModRevision: read?.modRevision ?? 0 };
    await expect(r.units.destroy("g.service", guard)).rejects.toBeInstanceOf(ConflictError);
    expect((await r.units.get("g.service"))?.value.desiredState).toBe("launched");
    const now = await r.units.get("g.service");
    await r.units.destroy("g.service", { ifModRevision: now?.modRevision ?? 0 });
    expect(await r.units.get("g.service")).toBeUndefined();
    await expect(r.units.destroy("g.service", guard)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("(etcd) replace writes over the record read: conflict when changed since, not found when gone", async () => {
    const r = registry();
    await r.units.create(unit("rp.service", "inactive"));
    const read = await r.units.get("rp.service");
    if (read === undefined) throw new Error("not created");
    const done = await r.units.replace(read, { ...read.value, desiredState: "loaded" });
    expect((await r.units.get("rp.service"))?.value.desiredState).toBe("loaded");
    // The first read is stale now: the second write on it changes nothing.
    await expect(
      r.units.replace(read, { ...read.value, desiredState: "launched" }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await r.units.get("rp.service"))?.value.desiredState).toBe("loaded");
    await expect(
      r.units.replace(done, { ...done.value, name: "other.service" }),
    ).rejects.toBeInstanceOf(ConflictError);
    await r.units.destroy("rp.service");
    await expect(
      r.units.replace(done, { ...done.value, desiredState: "launched" }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await r.units.get("rp.service")).toBeUndefined();
  });

  it("(etcd) refuses to create a unit twice", async () => {
    const r = registry();
    await r.units.create(unit("a.service"));
    await expect(r.units.create(unit("a.service", "inactive"))).rejects.toThrow(
      /a.service already exists/,
    );
    expect((await r.units.get("a.service"))?.value.desiredState).toBe("launched");
  });

  it("(etcd) refuses a change the caller's function rejects, changing nothing", async () => {
    const r = registry();
    await r.units.create(unit("t@.service", "inactive"));
    const noTemplates = (u: UnitRecord, to: UnitRecord["desiredState"]) => {
      if (u.name.includes("@.") && to !== "inactive")
        throw new Error(`cannot activate template "${u.name}"`);
      return { ...u, desiredState: to };
    };
    await expect(r.units.update("t@.service", (u) => noTemplates(u, "launched"))).rejects.toThrow(
      /cannot activate template/,
    );
    expect((await r.units.get("t@.service"))?.value.desiredState).toBe("inactive");
  });

  it("(etcd) two writers racing on one unit: one wins, the other gets ConflictError, nothing lost", async () => {
    const r = registry();
    await r.units.create(unit("race.service", "inactive"));
    const read = await r.units.get("race.service");
    if (read === undefined) throw new Error("not created");
    // Both write over the same read, as two API PUTs that read the unit at once do.
    const results = await Promise.allSettled([
      r.units.replace(read, { ...read.value, desiredState: "loaded" }),
      r.units.replace(read, { ...read.value, desiredState: "launched" }),
    ]);
    const won = results.filter((x) => x.status === "fulfilled");
    const lost = results.filter((x) => x.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    const winner = (won[0] as PromiseFulfilledResult<{ value: UnitRecord }>).value.value
      .desiredState;
    expect((await r.units.get("race.service"))?.value.desiredState).toBe(winner);
  });

  it("(etcd) many concurrent unguarded read-modify-writes: each either applies or says conflict", async () => {
    const r = registry();
    await r.units.create({ ...unit("count.service"), options: [] });
    const add = (i: number) =>
      r.units.update("count.service", (u) => ({
        ...u,
        options: [...u.options, { section: "X", name: "n", value: String(i) }],
      }));
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => add(i)));
    const applied = results.filter((x) => x.status === "fulfilled").length;
    for (const x of results) {
      if (x.status === "rejected") expect(x.reason).toBeInstanceOf(ConflictError);
    }
    expect((await r.units.get("count.service"))?.value.options).toHaveLength(applied);
  });

  it("(etcd) skips a corrupt or foreign value in a listing and names its key", async () => {
    const log = memoryLogger();
    const r = registry(log);
    await r.units.create(unit("good.service"));
    await r.client.put(r.keys.unit("bad.service")).value("{not json");
    await r.client.put(r.keys.unit("foreign.service")).value(JSON.stringify({ hello: 1 }));
    const listing = await r.units.list();
    expect(listing.items.map((i) => i.value.name)).toEqual(["good.service"]);
    expect(listing.corrupt.map((c) => c.key).sort()).toEqual([
      r.keys.unit("bad.service"),
      r.keys.unit("foreign.service"),
    ]);
    expect(log.lines.some((l) => l.includes("bad.service") && l.includes("not JSON"))).toBe(true);
    await expect(r.units.get("bad.service")).rejects.toBeInstanceOf(CorruptValueError);
  });
});

describe("(etcd) machines", () => {
  it("(etcd) a machine appears with its metadata and disappears within agent_ttl after its agent stops", async () => {
    const r = registry();
    const p = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M1, { region: "eu" }),
      ttlSeconds: 1,
    });
    const listed = await r.machines.list();
    expect(listed.machines).toMatchObject([{ id: M1, metadata: { region: "eu" } }]);
    // Still there after several TTLs while keepalives run.
    await new Promise((res) => setTimeout(res, 2500));
    expect((await r.machines.list()).machines).toHaveLength(1);
    const stoppedAt = Date.now();
    p.close();
    await expect
      .poll(async () => (await r.machines.list()).machines.length, { timeout: 4000, interval: 50 })
      .toBe(0);
    // etcd expires a lease at its TTL after the last keepalive, plus up to 1 s of granularity.
    expect(Date.now() - stoppedAt).toBeLessThan(2500);
  });

  it("(etcd) metadata set through the registry survives the machine's rejoin and can hide config keys", async () => {
    const r = registry();
    const first = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M2, { region: "eu", disk: "hdd" }),
      ttlSeconds: 1,
    });
    await r.machines.patchMetadata(M2, [
      { op: "add", key: "role", value: "web" },
      { op: "replace", key: "disk", value: "ssd" },
      { op: "remove", key: "region" },
    ]);
    expect((await r.machines.list()).machines[0]?.metadata).toEqual({ disk: "ssd", role: "web" });
    await first.revoke();
    expect((await r.machines.list()).machines).toHaveLength(0);
    const again = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M2, { region: "eu", disk: "hdd" }),
      ttlSeconds: 1,
    });
    expect((await r.machines.list()).machines[0]?.metadata).toEqual({ disk: "ssd", role: "web" });
    await again.revoke();
  });

  it("(etcd) a restarted agent resumes its lease: its keys never disappear", async () => {
    const r = registry();
    const first = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M1),
      ttlSeconds: 2,
    });
    const leaseId = first.leaseId;
    first.close(); // the old process dies without revoking
    const second = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M1),
      ttlSeconds: 2,
      resumeLeaseId: leaseId,
    });
    expect(second.leaseId).toBe(leaseId);
    await new Promise((res) => setTimeout(res, 3000));
    expect((await r.machines.list()).machines).toHaveLength(1);
    await second.revoke();
  });

  it("(etcd) a resumed lease counts from its own first answered keepalive, not its predecessor's", async () => {
    const r = registry();
    const first = await LeaseKeeper.grant(r.client, 3, r.log);
    first.close(); // the old fleetd stops; its last renewal is now
    await new Promise((res) => setTimeout(res, 1500)); // a slow restart: half the TTL gone
    const before = monotonicNow();
    const resumed = await LeaseKeeper.resume(r.client, first.id, r.log);
    expect(resumed?.id).toBe(first.id);
    // resume() waited for etcd's answer: the lease is known renewed at or after `before`, so
    // at_most_once does not take the restart for a lease about to expire.
    expect(resumed?.renewedNotBefore).toBeGreaterThanOrEqual(before);
    await resumed?.revoke();
  });

  it("(etcd) after its lease is revoked behind its back, an agent registers again under a new lease", async () => {
    const r = registry();
    const p = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M1),
      ttlSeconds: 1,
    });
    const old = p.leaseId;
    const replaced = new Promise<string>((res) => p.once("leaseReplaced", res));
    await r.client.leaseClient.leaseRevoke({ ID: old });
    const fresh = await replaced;
    expect(fresh).not.toBe(old);
    expect((await r.machines.list()).machines).toHaveLength(1);
    await p.revoke();
  });
});

describe("(etcd) schedule", () => {
  it("(etcd) writes schedule and placement together and reads one consistent snapshot", async () => {
    const r = registry();
    await r.units.create(unit("a.service"));
    await r.units.create(unit("g.service"));
    const res = await r.schedule.apply(
      [
        {
          type: "schedule",
          machineId: M1,
          unit: "a.service",
          entry: { hash: HASH, desiredState: "launched" },
        },
        {
          type: "schedule",
          machineId: M1,
          unit: "g.service",
          entry: { hash: HASH, desiredState: "launched" },
        },
        {
          type: "schedule",
          machineId: M2,
          unit: "g.service",
          entry: { hash: HASH, desiredState: "launched" },
        },
        { type: "reason", unit: "b.service", reason: "no machine has region=mars" },
      ],
      [],
    );
    expect(res.transactions).toBe(1);
    const snap = await r.schedule.readSnapshot();
    expect(snap.units.map((u) => u.value.name)).toEqual(["a.service", "g.service"]);
    expect(snap.schedule.map((s) => `${s.unit}@${s.machineId.slice(0, 1)}`).sort()).toEqual([
      "a.service@1",
      "g.service@1",
      "g.service@2",
    ]);
    expect(snap.unschedulable.get("b.service")).toBe("no machine has region=mars");
    const placements = await r.kv.range(r.keys.placementPrefix("g.service"));
    expect(placements.kvs.map((kv) => kv.key)).toEqual([
      r.keys.placement("g.service", M1),
      r.keys.placement("g.service", M2),
    ]);
    await r.schedule.apply(
      [
        { type: "unschedule", machineId: M2, unit: "g.service" },
        { type: "reason", unit: "b.service", reason: undefined },
      ],
      [],
    );
    const after = await r.schedule.readSnapshot();
    expect(after.schedule.filter((s) => s.unit === "g.service")).toHaveLength(1);
    expect((await r.kv.range(r.keys.placementPrefix("g.service"))).kvs).toHaveLength(1);
    expect(after.unschedulable.size).toBe(0);
    expect((await r.schedule.listForMachine(M1)).entries.map((e) => e.unit)).toEqual([
      "a.service",
      "g.service",
    ]);
  });

  it("(etcd) batches more than 128 operations into several transactions without splitting pairs", async () => {
    const r = registry();
    const changes: ScheduleChange[] = Array.from({ length: 300 }, (_, i) => ({
      type: "schedule",
      machineId: M1,
      unit: `u${i}.service`,
      entry: { hash: HASH2, desiredState: "launched" },
    }));
    const res = await r.schedule.apply(changes, []);
    expect(res.transactions).toBe(Math.ceil(600 / 128));
    expect((await r.schedule.listForMachine(M1)).entries).toHaveLength(300);
    expect((await r.kv.range(r.keys.placementPrefix())).kvs).toHaveLength(300);
  });

  it("(etcd) a fenced write fails once the fence key changed, and writes nothing", async () => {
    const r = registry();
    const fenceKey = r.keys.election;
    await r.client.put(fenceKey).value("leader-1");
    const created = (await r.kv.get(fenceKey))?.createRevision ?? 0;
    const fence = [{ key: fenceKey, target: "create" as const, equals: created }];
    const change: ScheduleChange = {
      type: "schedule",
      machineId: M1,
      unit: "a.service",
      entry: { hash: HASH, desiredState: "launched" },
    };
    await r.schedule.apply([change], fence);
    // Leadership passes on: the key is deleted and created again by the new leader.
    await r.client.delete().key(fenceKey);
    await r.client.put(fenceKey).value("leader-2");
    await expect(
      r.schedule.apply([{ ...change, unit: "b.service" }], fence),
    ).rejects.toBeInstanceOf(FencedError);
    expect((await r.schedule.listForMachine(M1)).entries.map((e) => e.unit)).toEqual(["a.service"]);
  });
});

describe("(etcd) states", () => {
  it("(etcd) publishes states on the agent's lease and removes them", async () => {
    const r = registry();
    const p = await MachinePresence.register({
      client: r.client,
      kv: r.kv,
      keys: r.keys,
      log: r.log,
      record: machine(M1),
      ttlSeconds: 1,
    });
    const st = {
      loadState: "loaded",
      activeState: "active",
      subState: "running",
      hash: HASH,
      since: 5,
    };
    await r.states.publish(M1, p.leaseId, [
      { unit: "a.service", state: st },
      { unit: "b.service", state: { ...st, activeState: "failed", subState: "failed" } },
    ]);
    const { states } = await r.states.list();
    expect(states.map((s) => [s.unit, s.machineId === M1, s.subState])).toEqual([
      ["a.service", true, "running"],
      ["b.service", true, "failed"],
    ]);
    await r.states.publish(M1, p.leaseId, [{ unit: "a.service", state: undefined }]);
    expect((await r.states.list()).states.map((s) => s.unit)).toEqual(["b.service"]);
    await p.revoke();
    expect((await r.states.list()).states).toHaveLength(0);
  });
});

describe("(etcd) watches", () => {
  it("(etcd) starts from a listing, then delivers every change once, in order; a throwing handler does not kill it", async () => {
    const r = registry();
    await r.units.create(unit("before.service"));
    const seen: string[] = [];
    let listed: string[] = [];
    let throwOnce = true;
    const w = await r.watch(r.keys.unitsPrefix, {
      onResync: (l) => {
        listed = l.kvs.map((kv) => kv.key);
      },
      onEvents: (events: readonly WatchEvent[]) => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error("handler bug");
        }
        for (const e of events) seen.push(`${e.type} ${e.key.split("/").pop()}`);
      },
    });
    expect(listed).toEqual([r.keys.unit("before.service")]);
    await r.units.create(unit("ignored-by-buggy-handler.service"));
    await expect.poll(() => throwOnce).toBe(false);
    await r.units.create(unit("a.service"));
    await r.units.destroy("a.service");
    await expect.poll(() => seen, { timeout: 3000 }).toEqual(["put a.service", "delete a.service"]);
    expect(r.log).toBeDefined();
    await w.close();
  });
});
