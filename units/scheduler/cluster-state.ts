/**
 * @module units/scheduler/cluster-state
 * The scheduler's working state during one pass: which units sit on which machine, each
 * machine's load, and indexes that keep the Conflicts checks cheap (1,000 machines × 10,000
 * units must plan in well under a second).
 */
import { compileGlob, literalPrefix } from "../glob.js";
import type { SchedulerMachine, SchedulerUnit } from "./snapshot.js";

export class ClusterState {
  readonly machines: readonly SchedulerMachine[];
  readonly units: ReadonlyMap<string, SchedulerUnit>;
  /** machine → units placed there in this pass. */
  readonly hosted = new Map<string, Set<string>>();
  /** unit → machines it is placed on in this pass. */
  readonly placed = new Map<string, Set<string>>();
  /** unit → the active units whose Conflicts globs match its name. */
  readonly conflictedBy = new Map<string, Set<string>>();
  /** unit → the active units its own Conflicts globs match. */
  readonly conflictsWith = new Map<string, Set<string>>();
  /** unit → the active units it Replaces / that Replace it. */
  readonly replaces = new Map<string, Set<string>>();
  readonly replacedBy = new Map<string, Set<string>>();
  readonly #loadBuckets = new LoadBuckets();

  constructor(machines: readonly SchedulerMachine[], active: readonly SchedulerUnit[]) {
    this.machines = [...machines].sort((a, b) => compare(a.id, b.id));
    this.units = new Map(active.map((u) => [u.name, u]));
    for (const m of this.machines) {
      this.hosted.set(m.id, new Set());
      this.#loadBuckets.add(m.id, 0);
    }
    this.#indexGlobs(active);
  }

  #indexGlobs(active: readonly SchedulerUnit[]): void {
    const names = active.map((u) => u.name).sort(compare);
    const matchCache = new Map<string, string[]>();
    // Only names that start with the pattern's literal prefix can match: a binary search
    // narrows 10,000 names to the few of one service before any glob runs.
    const matching = (pattern: string): string[] => {
      let hit = matchCache.get(pattern);
      if (hit === undefined) {
        const prefix = literalPrefix(pattern);
        const matches = compileGlob(pattern);
        hit = [];
        for (let i = lowerBound(names, prefix); i < names.length; i++) {
          const n = names[i] as string;
          if (!n.startsWith(prefix)) break;
          if (matches(n)) hit.push(n);
        }
        matchCache.set(pattern, hit);
      }
      return hit;
    };
    const add = (map: Map<string, Set<string>>, key: string, value: string) => {
      let set = map.get(key);
      if (set === undefined) {
        set = new Set();
        map.set(key, set);
      }
      set.add(value);
    };
    for (const u of active) {
      for (const pattern of u.requirements.conflicts) {
        for (const other of matching(pattern)) {
          if (other === u.name) continue;
          add(this.conflictsWith, u.name, other);
          add(this.conflictedBy, other, u.name);
        }
      }
      // A global unit's Replaces is ignored, as fleet did (validation refuses the pair anyway).
      if (u.requirements.global) continue;
      for (const pattern of u.requirements.replaces) {
        for (const other of matching(pattern)) {
          if (other === u.name) continue;
          add(this.replaces, u.name, other);
          add(this.replacedBy, other, u.name);
        }
      }
    }
  }

  place(unit: string, machine: string): void {
    const hosted = this.hosted.get(machine);
    if (hosted === undefined || hosted.has(unit)) return;
    hosted.add(unit);
    let at = this.placed.get(unit);
    if (at === undefined) {
      at = new Set();
      this.placed.set(unit, at);
    }
    at.add(machine);
    this.#loadBuckets.move(machine, hosted.size - 1, hosted.size);
  }

  /** Removes a placement made earlier in this pass. */
  unplace(unit: string, machine: string): void {
    const hosted = this.hosted.get(machine);
    if (hosted === undefined || !hosted.delete(unit)) return;
    this.placed.get(unit)?.delete(machine);
    this.#loadBuckets.move(machine, hosted.size + 1, hosted.size);
  }

  load(machine: string): number {
    return this.hosted.get(machine)?.size ?? 0;
  }

  machinesOf(unit: string): ReadonlySet<string> {
    return this.placed.get(unit) ?? EMPTY;
  }

  /** Machines from least to most loaded, ties by smallest ID (fleet's leastLoadedScheduler). */
  byLoad(): Iterable<string> {
    return this.#loadBuckets.ordered();
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Byte order, as Go compares strings (`m10` < `m2`). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Machine IDs grouped by load, each group sorted: "least loaded first" without sorting. */
class LoadBuckets {
  readonly #buckets: string[][] = [];

  add(id: string, load: number): void {
    let bucket = this.#buckets[load];
    if (bucket === undefined) {
      bucket = [];
      this.#buckets[load] = bucket;
    }
    bucket.splice(lowerBound(bucket, id), 0, id);
  }

  move(id: string, from: number, to: number): void {
    const bucket = this.#buckets[from];
    if (bucket !== undefined) {
      const i = lowerBound(bucket, id);
      if (bucket[i] === id) bucket.splice(i, 1);
    }
    this.add(id, to);
  }

  *ordered(): Iterable<string> {
    for (const bucket of this.#buckets) {
      if (bucket === undefined) continue;
      // A copy: the caller may place a unit (and move a machine) while iterating.
      yield* [...bucket];
    }
  }
}

function lowerBound(sorted: readonly string[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
