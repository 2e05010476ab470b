/**
 * @module agent/engine/cluster-view
 * The leader's picture of the cluster, kept in memory from watches on six prefixes (units,
 * machines, metadata, schedule, unschedulable, drain) instead of re-read from etcd on every change:
 * with 10,000 units a re-read per event would be the full-reload storm fleet had.
 *
 * The leader also applies its own writes here as soon as they commit, so the next pass never
 * plans from a view that lacks them (which could place a unit twice).
 */
import type { z } from "zod";
import type { Logger } from "../logging/logger.js";
import {
  DrainSchema,
  decode,
  type MachineRecord,
  MachineRecordSchema,
  type MetadataOverrides,
  MetadataOverridesSchema,
  type ScheduleChange,
  type ScheduleEntry,
  ScheduleEntrySchema,
  type UnitRecord,
  UnitRecordSchema,
  UnschedulableSchema,
} from "../registry/index.js";
import type { KeyKind, KeyLayout } from "../registry/keys.js";
import type { StoredKV } from "../registry/kv.js";
import type { WatchEvent } from "../registry/watch.js";

/** The prefixes the view follows, and how each key is parsed. */
export const VIEW_PREFIXES = [
  "units",
  "machines",
  "metadata",
  "schedule",
  "unschedulable",
  "drain",
] as const;
export type ViewPrefix = (typeof VIEW_PREFIXES)[number];

export class ClusterView {
  readonly units = new Map<string, UnitRecord>();
  readonly machines = new Map<string, MachineRecord>();
  readonly metadata = new Map<string, MetadataOverrides>();
  /** unit → machine → entry */
  readonly schedule = new Map<string, Map<string, ScheduleEntry>>();
  readonly unschedulable = new Map<string, string>();
  /** Machines being drained (they may be live or not). */
  readonly draining = new Set<string>();

  constructor(
    private readonly keys: KeyLayout,
    private readonly log: Logger,
  ) {}

  /** Replaces everything under one prefix (a watch's listing). */
  resync(prefix: ViewPrefix, kvs: readonly StoredKV[]): void {
    this.#clear(prefix);
    for (const kv of kvs) this.#put(prefix, kv.key, kv.value);
  }

  apply(prefix: ViewPrefix, events: readonly WatchEvent[]): void {
    for (const e of events) {
      if (e.type === "put") this.#put(prefix, e.key, e.value);
      else this.#delete(prefix, e.key);
    }
  }

  /** What the leader just committed, before its watch reports it. */
  applyOwn(changes: readonly ScheduleChange[]): void {
    for (const c of changes) {
      if (c.type === "schedule") this.#setEntry(c.unit, c.machineId, c.entry);
      else if (c.type === "unschedule") this.#deleteEntry(c.unit, c.machineId);
      else if (c.reason === undefined) this.unschedulable.delete(c.unit);
      else this.unschedulable.set(c.unit, c.reason);
    }
  }

  #clear(prefix: ViewPrefix): void {
    ({
      units: this.units,
      machines: this.machines,
      metadata: this.metadata,
      schedule: this.schedule,
      unschedulable: this.unschedulable,
      drain: this.draining,
    })[prefix].clear();
  }

  #parts(prefix: ViewPrefix, key: string): string[] | undefined {
    return this.keys.parse(key, prefix as KeyKind);
  }

  #put(prefix: ViewPrefix, key: string, value: Buffer): void {
    const parts = this.#parts(prefix, key);
    if (parts === undefined) return;
    const read = <T>(schema: z.ZodType<T>): T | undefined => {
      const d = decode(schema, key, value);
      if (d.ok) return d.value;
      this.log.warn("skipping unreadable etcd value", { key, problem: d.corrupt.problem });
      return undefined;
    };
    switch (prefix) {
      case "units": {
        const unit = read(UnitRecordSchema);
        if (unit === undefined) return;
        if (unit.name !== parts[0]) {
          this.log.warn("skipping unit whose name does not match its key", {
            key,
            name: unit.name,
          });
          return;
        }
        this.units.set(unit.name, unit);
        return;
      }
      case "machines": {
        const machine = read(MachineRecordSchema);
        if (machine !== undefined) this.machines.set(machine.id, machine);
        return;
      }
      case "metadata": {
        const overrides = read(MetadataOverridesSchema);
        if (overrides !== undefined) this.metadata.set(parts[0] as string, overrides);
        return;
      }
      case "schedule": {
        if (parts.length !== 2) return;
        const entry = read(ScheduleEntrySchema);
        if (entry !== undefined) this.#setEntry(parts[1] as string, parts[0] as string, entry);
        return;
      }
      case "unschedulable": {
        const reason = read(UnschedulableSchema);
        if (reason !== undefined) this.unschedulable.set(parts[0] as string, reason.reason);
        return;
      }
      case "drain":
        if (read(DrainSchema) !== undefined) this.draining.add(parts[0] as string);
        return;
    }
  }

  #delete(prefix: ViewPrefix, key: string): void {
    const parts = this.#parts(prefix, key);
    if (parts === undefined) return;
    switch (prefix) {
      case "units":
        this.units.delete(parts[0] as string);
        return;
      case "machines":
        this.machines.delete(parts[0] as string);
        return;
      case "metadata":
        this.metadata.delete(parts[0] as string);
        return;
      case "schedule":
        if (parts.length === 2) this.#deleteEntry(parts[1] as string, parts[0] as string);
        return;
      case "unschedulable":
        this.unschedulable.delete(parts[0] as string);
        return;
      case "drain":
        this.draining.delete(parts[0] as string);
        return;
    }
  }

  #setEntry(unit: string, machine: string, entry: ScheduleEntry): void {
    let byMachine = this.schedule.get(unit);
    if (byMachine === undefined) {
      byMachine = new Map();
      this.schedule.set(unit, byMachine);
    }
    byMachine.set(machine, entry);
  }

  #deleteEntry(unit: string, machine: string): void {
    const byMachine = this.schedule.get(unit);
    if (byMachine === undefined) return;
    byMachine.delete(machine);
    if (byMachine.size === 0) this.schedule.delete(unit);
  }
}
