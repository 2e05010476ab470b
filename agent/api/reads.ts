/**
 * @module agent/api/reads
 * What the API's GETs read from etcd, each in one round trip where it can: one transaction of
 * several range requests, all answered at the same revision. Prefixes larger than a page are
 * read on, page by page, at that revision (a 10,000-unit listing would exceed gRPC's message
 * limit in one response).
 *
 * Round trips: GET /units/<name> 1 (2 when a placement was written by an older fleet-ts that
 * did not copy the entry's state into it); GET /units 1 per 1,000 keys of the largest prefix;
 * GET /machines 1; drain routes 1.
 */
import type { Etcd3, IRangeRequest } from "etcd3";
import type { Logger } from "../logging/logger.js";
import { prefixEnd } from "../registry/keys.js";
import { type StoredKV, toKV } from "../registry/kv.js";
import type { Registry } from "../registry/registry.js";
import { isUnreadable, RecordSet } from "./record-set.js";
import type { WireMachine, WireUnit } from "./wire.js";

const PAGE = 1000;

export type ReadSpec = { readonly prefix: string } | { readonly key: string };

function rangeOf(spec: ReadSpec, revision?: number): IRangeRequest {
  if ("key" in spec) return { key: Buffer.from(spec.key), ...(revision ? { revision } : {}) };
  return {
    key: Buffer.from(spec.prefix),
    range_end: prefixEnd(Buffer.from(spec.prefix)),
    limit: PAGE,
    sort_order: "Ascend",
    sort_target: "Key",
    ...(revision ? { revision } : {}),
  };
}

/** Every spec read at one revision: one transaction, then more pages where a prefix has more. */
export async function readAtOnce(
  client: Etcd3,
  specs: readonly ReadSpec[],
): Promise<{ results: StoredKV[][]; revision: number; roundTrips: number }> {
  const res = await client.kv.txn({
    compare: [],
    success: specs.map((s) => ({ request_range: rangeOf(s) })),
    failure: [],
  });
  const revision = Number(res.header.revision);
  let roundTrips = 1;
  const results: StoredKV[][] = [];
  for (const [i, spec] of specs.entries()) {
    const range = res.responses[i]?.response_range;
    const kvs = (range?.kvs ?? []).map(toKV);
    let more = range?.more === true;
    while (more && "prefix" in spec) {
      const last = kvs[kvs.length - 1] as StoredKV;
      const page = await client.kv.range({
        ...rangeOf(spec, revision),
        key: Buffer.concat([Buffer.from(last.key), Buffer.from([0])]),
      });
      roundTrips++;
      kvs.push(...page.kvs.map(toKV));
      more = page.more && page.kvs.length > 0;
    }
    results.push(kvs);
  }
  return { results, revision, roundTrips };
}

function fill(set: RecordSet, results: readonly StoredKV[][], log: Logger): void {
  for (const kvs of results) {
    for (const kv of kvs) {
      const t = set.apply(kv.key, kv.value);
      if (isUnreadable(t))
        log.warn("skipping unreadable etcd value", { key: t.key, problem: t.problem });
    }
  }
}

/** Units with their machine, current state and reason: all of them, or the one named. */
export async function readWireUnits(
  registry: Registry,
  log: Logger,
  only?: string,
): Promise<{ units: WireUnit[]; roundTrips: number; revision: number }> {
  const k = registry.keys;
  const specs: ReadSpec[] =
    only === undefined
      ? [
          { prefix: k.unitsPrefix },
          { prefix: k.placementPrefix() },
          { prefix: k.statesPrefix() },
          { prefix: k.unschedulablePrefix },
        ]
      : [
          { key: k.unit(only) },
          { prefix: k.placementPrefix(only) },
          { prefix: k.statesPrefix(only) },
          { key: k.unschedulable(only) },
        ];
  const read = await readAtOnce(registry.client, specs);
  let roundTrips = read.roundTrips;
  const set = new RecordSet(k);
  fill(set, read.results, log);
  // Placements written before they carried the entry's state: read those entries too.
  const missing: { name: string; machineId: string }[] = [];
  for (const name of set.units.keys()) {
    const machineId = set.machinesOf(name)[0];
    if (machineId !== undefined && set.entryState(name, machineId) === undefined)
      missing.push({ name, machineId });
  }
  for (let i = 0; i < missing.length; i += 100) {
    const batch = missing.slice(i, i + 100);
    const more = await readAtOnce(
      registry.client,
      batch.map((m) => ({ key: k.schedule(m.machineId, m.name) })),
    );
    roundTrips += more.roundTrips;
    fill(set, more.results, log);
  }
  const names = [...set.units.keys()].sort();
  return {
    units: names.flatMap((n) => set.wireUnit(n) ?? []),
    roundTrips,
    revision: read.revision,
  };
}

/** Live machines with effective metadata and the drain flag, by ID. */
export async function readWireMachines(registry: Registry, log: Logger): Promise<WireMachine[]> {
  const k = registry.keys;
  const read = await readAtOnce(registry.client, [
    { prefix: k.machinesPrefix },
    { prefix: k.metadataPrefix },
    { prefix: k.drainPrefix },
  ]);
  const set = new RecordSet(k);
  fill(set, read.results, log);
  return [...set.machines.keys()].sort().flatMap((id) => set.wireMachine(id) ?? []);
}

/** One machine's drain view: live or not, drained or not, and what it still runs. */
export async function readDrain(
  registry: Registry,
  log: Logger,
  machineId: string,
): Promise<{ live: boolean; draining: boolean; units: string[] }> {
  const k = registry.keys;
  const read = await readAtOnce(registry.client, [
    { key: k.machine(machineId) },
    { key: k.drain(machineId) },
    { prefix: k.schedulePrefix(machineId) },
    { prefix: k.statesPrefix() },
  ]);
  const set = new RecordSet(k);
  fill(set, read.results, log);
  const units = new Set<string>();
  for (const kv of read.results[2] ?? []) {
    const unit = k.parse(kv.key, "schedule")?.[1];
    if (unit !== undefined) units.add(unit);
  }
  for (const [unit, byMachine] of set.states) if (byMachine.has(machineId)) units.add(unit);
  return {
    live: set.machines.has(machineId),
    draining: set.drains.has(machineId),
    units: [...units].sort(),
  };
}
