/**
 * @module agent/registry/schedule
 * The leader's side of the state: a consistent snapshot to plan from, and the plan's changes
 * written back in transactions. `schedule/<machine>/<unit>` and `placement/<unit>/<machine>`
 * always change in the same transaction; every transaction carries the leader's fence (a
 * compare on its election key) so a deposed leader's late writes fail instead of applying.
 */
import type { Logger } from "../logging/logger.js";
import {
  type CorruptValue,
  encode,
  PlacementSchema,
  type ScheduleEntry,
  ScheduleEntrySchema,
  type UnitRecord,
  UnitRecordSchema,
  UnschedulableSchema,
} from "./codecs.js";
import { FencedError } from "./errors.js";
import type { KeyLayout } from "./keys.js";
import { type Compare, type EtcdKV, MAX_TXN_OPS, type Op } from "./kv.js";
import { type MachineStore, type MachineView, mergeMetadata } from "./machines.js";
import { decodeAll, type Stored } from "./stored.js";

export interface ScheduledUnit {
  readonly machineId: string;
  readonly unit: string;
  readonly entry: ScheduleEntry;
}

/** Everything the scheduler decides from, read at one etcd revision. */
export interface ClusterState {
  readonly revision: number;
  readonly units: Stored<UnitRecord>[];
  readonly machines: MachineView[];
  readonly schedule: ScheduledUnit[];
  readonly unschedulable: ReadonlyMap<string, string>;
  readonly corrupt: CorruptValue[];
}

export type ScheduleChange =
  | {
      readonly type: "schedule";
      readonly machineId: string;
      readonly unit: string;
      readonly entry: ScheduleEntry;
    }
  | { readonly type: "unschedule"; readonly machineId: string; readonly unit: string }
  /** Sets (or with `reason: undefined` clears) why a unit could not be placed. */
  | { readonly type: "reason"; readonly unit: string; readonly reason: string | undefined };

export interface ApplyResult {
  readonly transactions: number;
  readonly revision: number;
}

export class ScheduleStore {
  constructor(
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly machines: MachineStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** A consistent snapshot: every prefix read at the revision of the first read. */
  async readSnapshot(): Promise<ClusterState> {
    const unitsRange = await this.kv.range(this.keys.unitsPrefix);
    const rev = unitsRange.revision;
    const [machineRecords, overrides, scheduleRange, reasonsRange] = await Promise.all([
      this.machines.listRecords(rev),
      this.machines.listOverrides(rev),
      this.kv.range(this.keys.schedulePrefix(), rev),
      this.kv.range(this.keys.unschedulablePrefix, rev),
    ]);
    const units = decodeAll(UnitRecordSchema, unitsRange.kvs, rev, this.log);
    const schedule = decodeAll(ScheduleEntrySchema, scheduleRange.kvs, rev, this.log);
    const reasons = decodeAll(UnschedulableSchema, reasonsRange.kvs, rev, this.log);

    const overridesById = new Map(
      overrides.items.flatMap((o) => {
        const id = this.keys.parse(o.key, "metadata")?.[0];
        return id === undefined ? [] : [[id, o.value] as const];
      }),
    );
    const machines: MachineView[] = machineRecords.items.map(({ value: m }) => ({
      id: m.id,
      publicIP: m.publicIP,
      metadata: mergeMetadata(m.metadata, overridesById.get(m.id)),
      version: m.version,
      apiUrl: m.apiUrl,
      startedAt: m.startedAt,
    }));
    const scheduled: ScheduledUnit[] = [];
    for (const s of schedule.items) {
      const parts = this.keys.parse(s.key, "schedule");
      if (parts?.length !== 2) continue;
      scheduled.push({ machineId: parts[0] as string, unit: parts[1] as string, entry: s.value });
    }
    const unschedulable = new Map<string, string>();
    for (const r of reasons.items) {
      const unit = this.keys.parse(r.key, "unschedulable")?.[0];
      if (unit !== undefined) unschedulable.set(unit, r.value.reason);
    }
    return {
      revision: rev,
      units: units.items,
      machines,
      schedule: scheduled,
      unschedulable,
      corrupt: [
        ...units.corrupt,
        ...machineRecords.corrupt,
        ...overrides.corrupt,
        ...schedule.corrupt,
        ...reasons.corrupt,
      ],
    };
  }

  /** One machine's schedule: what its agent lists before watching. */
  async listForMachine(machineId: string): Promise<{ entries: ScheduledUnit[]; revision: number }> {
    const { kvs, revision } = await this.kv.range(this.keys.schedulePrefix(machineId));
    const listing = decodeAll(ScheduleEntrySchema, kvs, revision, this.log);
    const entries = listing.items.flatMap((s) => {
      const parts = this.keys.parse(s.key, "schedule");
      return parts?.length === 2 ? [{ machineId, unit: parts[1] as string, entry: s.value }] : [];
    });
    return { entries, revision };
  }

  #ops(change: ScheduleChange): Op[] {
    switch (change.type) {
      case "schedule":
        return [
          {
            type: "put",
            key: this.keys.schedule(change.machineId, change.unit),
            value: encode(ScheduleEntrySchema, change.entry),
          },
          {
            type: "put",
            key: this.keys.placement(change.unit, change.machineId),
            value: encode(PlacementSchema, { desiredState: change.entry.desiredState }),
          },
        ];
      case "unschedule":
        return [
          { type: "delete", key: this.keys.schedule(change.machineId, change.unit) },
          { type: "delete", key: this.keys.placement(change.unit, change.machineId) },
        ];
      case "reason":
        return change.reason === undefined
          ? [{ type: "delete", key: this.keys.unschedulable(change.unit) }]
          : [
              {
                type: "put",
                key: this.keys.unschedulable(change.unit),
                value: encode(UnschedulableSchema, { reason: change.reason, since: this.now() }),
              },
            ];
    }
  }

  /**
   * Writes the changes in as few transactions as etcd's op limit allows, never splitting a
   * schedule/placement pair. Every transaction is guarded by `fence`; when it fails nothing of
   * that transaction applies, the rest is not attempted, and FencedError says so.
   */
  async apply(changes: readonly ScheduleChange[], fence: readonly Compare[]): Promise<ApplyResult> {
    let batch: Op[] = [];
    let transactions = 0;
    let revision = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const res = await this.kv.txn(fence, batch);
      transactions++;
      if (!res.succeeded) {
        throw new FencedError(
          "schedule not written: this engine is no longer the leader (its election key changed)",
        );
      }
      revision = res.revision;
      batch = [];
    };
    for (const change of changes) {
      const ops = this.#ops(change);
      if (batch.length + ops.length > MAX_TXN_OPS) await flush();
      batch.push(...ops);
    }
    await flush();
    return { transactions, revision };
  }
}
