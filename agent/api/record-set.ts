/**
 * @module agent/api/record-set
 * The registry records the API shows, held by key and turned into fleet's wire objects. The
 * same set serves a one-transaction read (GET /units/<name>) and the event stream's live
 * model (fed by a watch over the whole prefix), so a unit looks the same in both.
 */
import { unitRequirements } from "../../units/requirements.js";
import {
  DrainSchema,
  decode,
  type MachineRecord,
  MachineRecordSchema,
  type MetadataOverrides,
  MetadataOverridesSchema,
  PlacementSchema,
  ScheduleEntrySchema,
  type UnitRecord,
  UnitRecordSchema,
  type UnitStateRecord,
  UnitStateRecordSchema,
  UnschedulableSchema,
} from "../registry/codecs.js";
import type { KeyLayout } from "../registry/keys.js";
import { mergeMetadata } from "../registry/machines.js";
import {
  type WireMachine,
  type WireUnit,
  type WireUnitState,
  wireMachine,
  wireUnit,
  wireUnitState,
} from "./wire.js";

type EntryState = "loaded" | "launched";

/** What a key is about: the wire object it is part of. */
export type Touched =
  | { readonly kind: "unit"; readonly name: string }
  | { readonly kind: "state"; readonly name: string; readonly machineId: string }
  | { readonly kind: "machine"; readonly id: string };

/** A value under our prefix that does not match its schema: skipped, reported to the caller. */
export interface Unreadable {
  readonly key: string;
  readonly problem: string;
}

function nested<V>(map: Map<string, Map<string, V>>, a: string): Map<string, V> {
  let inner = map.get(a);
  if (inner === undefined) {
    inner = new Map();
    map.set(a, inner);
  }
  return inner;
}

function removeNested<V>(map: Map<string, Map<string, V>>, a: string, b: string): void {
  const inner = map.get(a);
  if (inner === undefined) return;
  inner.delete(b);
  if (inner.size === 0) map.delete(a);
}

export class RecordSet {
  readonly units = new Map<string, UnitRecord>();
  /** unit → machine → the schedule entry's desired state (from `schedule/`). */
  readonly #scheduled = new Map<string, Map<string, EntryState>>();
  /** unit → machine → the same, from `placement/` (undefined when an older writer stored `{}`). */
  readonly #placed = new Map<string, Map<string, EntryState | undefined>>();
  /** unit → machine → systemd's state there. */
  readonly states = new Map<string, Map<string, UnitStateRecord>>();
  readonly reasons = new Map<string, string>();
  readonly machines = new Map<string, MachineRecord>();
  readonly #metadata = new Map<string, MetadataOverrides>();
  readonly drains = new Set<string>();
  readonly #global = new Map<string, { hash: string; global: boolean }>();

  constructor(private readonly keys: KeyLayout) {}

  /**
   * Applies one put (value given) or delete of a key under the prefix. Returns what it
   * touched, or an `Unreadable` for a value that does not decode (the key is then ignored).
   */
  apply(key: string, value: Buffer | undefined): Touched | Unreadable | undefined {
    if (!key.startsWith(this.keys.prefix)) return undefined;
    const kind = key.slice(this.keys.prefix.length).split("/", 1)[0] as string;
    const parts = this.keys.parse(key, kind as Parameters<KeyLayout["parse"]>[1]);
    if (parts === undefined) return undefined;
    const read = <T>(schema: Parameters<typeof decode<T>>[0]): T | Unreadable => {
      const d = decode(schema, key, value as Buffer);
      return d.ok ? d.value : d.corrupt;
    };
    const unreadable = (v: unknown): v is Unreadable =>
      typeof v === "object" && v !== null && "problem" in v && "key" in v;
    const [a, b] = parts as [string, string | undefined];
    switch (kind) {
      case "units": {
        if (parts.length !== 1) return undefined;
        if (value === undefined) this.units.delete(a);
        else {
          const u = read(UnitRecordSchema);
          if (unreadable(u)) return u;
          if (u.name !== a) return { key, problem: `unit name ${u.name} differs from its key` };
          this.units.set(a, u);
        }
        return { kind: "unit", name: a };
      }
      case "schedule": {
        if (b === undefined || parts.length !== 2) return undefined;
        if (value === undefined) removeNested(this.#scheduled, b, a);
        else {
          const e = read(ScheduleEntrySchema);
          if (unreadable(e)) return e;
          nested(this.#scheduled, b).set(a, e.desiredState);
        }
        return { kind: "unit", name: b };
      }
      case "placement": {
        if (b === undefined || parts.length !== 2) return undefined;
        if (value === undefined) removeNested(this.#placed, a, b);
        else {
          const p = read(PlacementSchema);
          if (unreadable(p)) return p;
          nested(this.#placed, a).set(b, p.desiredState);
        }
        return { kind: "unit", name: a };
      }
      case "states": {
        if (b === undefined || parts.length !== 2) return undefined;
        if (value === undefined) removeNested(this.states, a, b);
        else {
          const s = read(UnitStateRecordSchema);
          if (unreadable(s)) return s;
          nested(this.states, a).set(b, s);
        }
        return { kind: "state", name: a, machineId: b };
      }
      case "unschedulable": {
        if (parts.length !== 1) return undefined;
        if (value === undefined) this.reasons.delete(a);
        else {
          const r = read(UnschedulableSchema);
          if (unreadable(r)) return r;
          this.reasons.set(a, r.reason);
        }
        return { kind: "unit", name: a };
      }
      case "machines": {
        if (parts.length !== 1) return undefined;
        if (value === undefined) this.machines.delete(a);
        else {
          const m = read(MachineRecordSchema);
          if (unreadable(m)) return m;
          this.machines.set(a, m);
        }
        return { kind: "machine", id: a };
      }
      case "metadata": {
        if (parts.length !== 1) return undefined;
        if (value === undefined) this.#metadata.delete(a);
        else {
          const o = read(MetadataOverridesSchema);
          if (unreadable(o)) return o;
          this.#metadata.set(a, o);
        }
        return { kind: "machine", id: a };
      }
      case "drain": {
        if (parts.length !== 1) return undefined;
        if (value === undefined) this.drains.delete(a);
        else {
          const d = read(DrainSchema);
          if (unreadable(d)) return d;
          this.drains.add(a);
        }
        return { kind: "machine", id: a };
      }
    }
    return undefined;
  }

  /** Machines the unit is scheduled to, sorted. */
  machinesOf(name: string): string[] {
    const all = new Set([
      ...(this.#scheduled.get(name)?.keys() ?? []),
      ...(this.#placed.get(name)?.keys() ?? []),
    ]);
    return [...all].sort();
  }

  /** The entry state of unit on machine, undefined when only an old `{}` placement says so. */
  entryState(name: string, machineId: string): EntryState | undefined {
    return this.#scheduled.get(name)?.get(machineId) ?? this.#placed.get(name)?.get(machineId);
  }

  /** Records the schedule entry state read separately (older placements carry none). */
  setEntryState(name: string, machineId: string, state: EntryState): void {
    nested(this.#scheduled, name).set(machineId, state);
  }

  isGlobal(unit: UnitRecord): boolean {
    const cached = this.#global.get(unit.name);
    if (cached?.hash === unit.hash) return cached.global;
    const global = unitRequirements(unit.name, unit.options).global;
    this.#global.set(unit.name, { hash: unit.hash, global });
    return global;
  }

  wireUnit(name: string): WireUnit | undefined {
    const unit = this.units.get(name);
    if (unit === undefined) {
      this.#global.delete(name);
      return undefined;
    }
    const machineId = this.machinesOf(name)[0];
    const entry = machineId === undefined ? undefined : this.entryState(name, machineId);
    const placement =
      machineId === undefined ? undefined : { machineId, entryState: entry ?? "loaded" };
    return wireUnit(
      unit,
      placement,
      machineId === undefined ? undefined : this.states.get(name)?.get(machineId)?.hash,
      this.isGlobal(unit),
      this.reasons.get(name),
    );
  }

  wireState(name: string, machineId: string): WireUnitState | undefined {
    const s = this.states.get(name)?.get(machineId);
    return s === undefined ? undefined : wireUnitState(name, machineId, s);
  }

  wireMachine(id: string): WireMachine | undefined {
    const m = this.machines.get(id);
    if (m === undefined) return undefined;
    return wireMachine(
      { ...m, metadata: mergeMetadata(m.metadata, this.#metadata.get(id)) },
      this.drains.has(id),
    );
  }
}

export function isUnreadable(t: Touched | Unreadable | undefined): t is Unreadable {
  return t !== undefined && "problem" in t;
}
