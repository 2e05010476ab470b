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
import { SerialRuns } from "./serial-runs.js";

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
  readonly #runs: SerialRuns;
  #stopped = false;
  /** The lease `#published` describes: another lease holds none of it. */
  #lease: string | undefined;
  /** Key writes made, for tests and benchmarks. */
  writes = 0;

  constructor(opts: StatePublisherOptions) {
    this.#o = opts;
    this.#runs = new SerialRuns(
      async () => {
        // A few milliseconds gather the burst of signals one job produces into one write.
        await new Promise((r) => setTimeout(r, opts.delayMs ?? 5));
        if (!this.#stopped) await this.#once();
      },
      (err) => {
        opts.log.warn("cannot publish unit states; will retry", { error: String(err) });
        setTimeout(() => this.request(), opts.retryMs ?? 1000).unref();
      },
    );
  }

  /** Publish what changed, soon. */
  request(): void {
    if (!this.#stopped) this.#runs.request();
  }

  /**
   * What etcd already holds under the lease (a resumed one): the first write then changes only
   * what differs, and deletes the states of units removed meanwhile.
   */
  adopt(leaseId: string, held: ReadonlyMap<string, UnitStateRecord>): void {
    this.#lease = leaseId;
    for (const [unit, state] of held) this.#published.set(unit, state);
  }

  /** Resolves once no write is pending or running (tests). */
  async idle(): Promise<void> {
    while (this.#runs.running !== undefined) await this.#runs.running;
  }

  /** No more writes; waits up to 1 s for one in flight (etcd may be the reason we stop). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const running = this.#runs.running;
    if (running === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      running,
      new Promise((r) => {
        timer = setTimeout(r, 1000);
      }),
    ]);
    clearTimeout(timer);
  }

  async #once(): Promise<void> {
    const { leaseId, reported } = this.#o.snapshot();
    if (leaseId === undefined) return;
    // A new lease (the old one expired, our states with it): everything is written again. A
    // write that landed on the new lease before the agent heard of the change stays recorded,
    // so a later removal still deletes it.
    if (leaseId !== this.#lease) {
      this.#lease = leaseId;
      this.#published.clear();
    }
    const changes = stateChanges(reported, this.#published, (this.#o.now ?? Date.now)());
    if (changes.length === 0) return;
    await this.#o.write(leaseId, changes);
    this.writes += changes.length;
    for (const c of changes) {
      if (c.state === undefined) this.#published.delete(c.unit);
      else this.#published.set(c.unit, c.state);
    }
  }
}
