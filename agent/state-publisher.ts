/**
 * @module agent/state-publisher
 * Keeps `states/<unit>/<this machine>` in etcd equal to what systemd reports of the units this
 * agent holds a file for, writing only what changed.
 *
 * One write is in flight at a time. Two overlapping writes lost deletions: the second computed
 * its changes before the first had recorded what it wrote, so a unit removed in between kept
 * its state key, and nothing ever looked at it again (`list-units` showed a destroyed unit
 * until the agent's lease ended). Writes could also land out of order, a put after a delete.
 * Requests made while a write runs are gathered into one more write after it; a failed write
 * is retried.
 */
import type { Logger } from "./logging/logger.js";
import type { UnitStateRecord } from "./registry/codecs.js";

/** What systemd reports of one unit, and the hash of the file we placed for it. */
export interface ReportedState {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly hash: string;
}

export interface StateChange {
  readonly unit: string;
  /** undefined: delete the unit's state. */
  readonly state: UnitStateRecord | undefined;
}

/** The writes that bring `published` to `reported`; `now` stamps the changed states. */
export function stateChanges(
  reported: ReadonlyMap<string, ReportedState>,
  published: ReadonlyMap<string, UnitStateRecord>,
  now: number,
): StateChange[] {
  const changes: StateChange[] = [];
  for (const [unit, s] of reported) {
    const before = published.get(unit);
    if (
      before?.loadState === s.loadState &&
      before.activeState === s.activeState &&
      before.subState === s.subState &&
      before.hash === s.hash
    ) {
      continue;
    }
    changes.push({ unit, state: { ...s, since: now } });
  }
  for (const unit of published.keys()) {
    if (!reported.has(unit)) changes.push({ unit, state: undefined });
  }
  return changes;
}

export interface StatePublisherOptions {
  /** What to publish now, and the lease to publish it on (undefined: not registered yet). */
  readonly snapshot: () => {
    readonly leaseId: string | undefined;
    readonly reported: ReadonlyMap<string, ReportedState>;
  };
  readonly write: (leaseId: string, changes: readonly StateChange[]) => Promise<void>;
  readonly log: Logger;
  /** Gathers the burst of signals one job produces into one write (default 5 ms). */
  readonly delayMs?: number;
  /** After a failed write (default 1 s). */
  readonly retryMs?: number;
  readonly now?: () => number;
}

export class StatePublisher {
  readonly #o: StatePublisherOptions;
  /** What etcd holds under our lease, as far as the writes that completed tell. */
  readonly #published = new Map<string, UnitStateRecord>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Bumped by forget(): a write begun before it must not record into the new map. */
  #epoch = 0;
  /** Key writes made, for tests and benchmarks. */
  writes = 0;

  constructor(opts: StatePublisherOptions) {
    this.#o = opts;
  }

  /** Publish what changed, soon. */
  request(): void {
    if (this.#stopped) return;
    if (this.#writing !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run();
    }, this.#o.delayMs ?? 5);
  }

  /**
   * What etcd already holds under the lease (a resumed one): the first write then changes only
   * what differs, and deletes the states of units removed meanwhile.
   */
  adopt(held: ReadonlyMap<string, UnitStateRecord>): void {
    for (const [unit, state] of held) this.#published.set(unit, state);
  }

  /** The lease holding our states is gone, and they with it: publish everything again. */
  forget(): void {
    this.#epoch++;
    this.#published.clear();
    this.request();
  }

  /** Resolves once no write is pending or running (tests). */
  async idle(): Promise<void> {
    while (this.#timer !== undefined || this.#writing !== undefined) {
      await (this.#writing ?? new Promise((r) => setTimeout(r, this.#o.delayMs ?? 5)));
    }
  }

  /** No more writes; waits up to 1 s for one in flight (etcd may be the reason we stop). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writing === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#writing,
      new Promise((r) => {
        timer = setTimeout(r, 1000);
      }),
    ]);
    clearTimeout(timer);
  }

  #run(): void {
    this.#writing = this.#once()
      .catch((err: unknown) => {
        this.#o.log.warn("cannot publish unit states; will retry", { error: String(err) });
        setTimeout(() => this.request(), this.#o.retryMs ?? 1000).unref();
      })
      .finally(() => {
        this.#writing = undefined;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }

  async #once(): Promise<void> {
    const { leaseId, reported } = this.#o.snapshot();
    if (leaseId === undefined) return;
    const changes = stateChanges(reported, this.#published, (this.#o.now ?? Date.now)());
    if (changes.length === 0) return;
    const epoch = this.#epoch;
    await this.#o.write(leaseId, changes);
    this.writes += changes.length;
    if (epoch !== this.#epoch) return;
    for (const c of changes) {
      if (c.state === undefined) this.#published.delete(c.unit);
      else this.#published.set(c.unit, c.state);
    }
  }
}
