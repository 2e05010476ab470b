/**
 * @module agent/engine/engine
 * The leader's loop. Only the elected engine decides; it is woken by watch events (a unit
 * submitted or changed, a machine joining or leaving, metadata changed) and, as a safety
 * net, every `engine_reconcile_interval`. Each pass: decide from the in-memory view (pure),
 * write the difference in fenced transactions, apply it to the view. A pass that finds nothing
 * to change writes nothing.
 */
import type { Logger } from "../logging/logger.js";
import { FencedError } from "../registry/errors.js";
import type { Registry } from "../registry/registry.js";
import type { PrefixWatch } from "../registry/watch.js";
import { SerialRuns } from "../serial-runs.js";
import { decide, RequirementsCache } from "./changes.js";
import { ClusterView, VIEW_PREFIXES, type ViewPrefix } from "./cluster-view.js";
import { LeaderElection, type Leadership } from "./election.js";

/** Longest time without a pass, changes or not. */
const FULL_PASS_MS = 30_000;

export interface EngineOptions {
  readonly registry: Registry;
  /** This host's machine ID (the candidate's name in the election). */
  readonly machineId: string;
  /** Election lease TTL: a dead leader is replaced within it. */
  readonly ttlSeconds: number;
  /** The safety-net pass interval. */
  readonly reconcileIntervalMs: number;
  readonly log: Logger;
}

export interface EngineStats {
  passes: number;
  /** Passes that wrote something. */
  writingPasses: number;
  transactions: number;
  changesWritten: number;
  lastPassMs: number;
}

export class Engine {
  readonly stats: EngineStats = {
    passes: 0,
    writingPasses: 0,
    transactions: 0,
    changesWritten: 0,
    lastPassMs: 0,
  };
  readonly #election: LeaderElection;
  readonly #cache = new RequirementsCache();
  readonly #log: Logger;
  #term: Term | undefined;

  constructor(opts: EngineOptions) {
    this.#log = opts.log.with({ component: "engine" });
    this.#election = new LeaderElection(
      opts.registry.client,
      opts.registry.kv,
      opts.registry.keys,
      opts.machineId,
      opts.ttlSeconds,
      this.#log,
    );
    this.#election.on("elected", (l) => {
      this.#term?.end();
      this.#term = new Term(opts, l, this.#cache, this.stats, this.#log);
      this.#term.begin().catch((err: unknown) => {
        this.#log.error("could not start leading", { error: String(err) });
      });
    });
    this.#election.on("deposed", () => {
      this.#term?.end();
      this.#term = undefined;
    });
  }

  get isLeader(): boolean {
    return this.#term !== undefined;
  }

  start(): void {
    this.#election.start();
  }

  /** Resolves when the leader's view is loaded and no pass is pending (tests, benchmarks). */
  async settled(): Promise<void> {
    await this.#term?.settled();
  }

  async stop(): Promise<void> {
    this.#term?.end();
    this.#term = undefined;
    await this.#election.stop();
  }
}

/** One period of leadership: its watches, its timer, its passes. Ends for good. */
class Term {
  readonly #view: ClusterView;
  readonly #watches: PrefixWatch[] = [];
  readonly #synced = new Set<ViewPrefix>();
  #timer: NodeJS.Timeout | undefined;
  readonly #passes = new SerialRuns(
    // A tick first: the burst of watch events that asked for the pass is all applied by then.
    () => new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#pass()),
    (err) => this.#failed(err),
  );
  #ended = false;
  /** Something changed (or a write failed) since the last successful pass. */
  #dirty = true;
  #lastPassAt = 0;

  constructor(
    private readonly opts: EngineOptions,
    private readonly leadership: Leadership,
    private readonly cache: RequirementsCache,
    private readonly stats: EngineStats,
    private readonly log: Logger,
  ) {
    this.#view = new ClusterView(opts.registry.keys, log);
  }

  async begin(): Promise<void> {
    const keys = this.opts.registry.keys;
    const prefixOf: Record<ViewPrefix, string> = {
      units: keys.unitsPrefix,
      machines: keys.machinesPrefix,
      metadata: keys.metadataPrefix,
      schedule: keys.schedulePrefix(),
      unschedulable: keys.unschedulablePrefix,
      drain: keys.drainPrefix,
    };
    for (const prefix of VIEW_PREFIXES) {
      const w = await this.opts.registry.watch(prefixOf[prefix], {
        onResync: (listing) => {
          this.#view.resync(prefix, listing.kvs);
          this.#synced.add(prefix);
          this.trigger();
        },
        onEvents: (events) => {
          this.#view.apply(prefix, events);
          this.#dirty = true;
          this.trigger();
        },
      });
      if (this.#ended) {
        await w.close();
        return;
      }
      this.#watches.push(w);
    }
    // The safety net: a pass whenever something is pending, and a full pass at least every
    // FULL_PASS_MS even if nothing seems to be (a pass over an unchanged view costs CPU only).
    this.#timer = setInterval(() => {
      if (this.#dirty || performance.now() - this.#lastPassAt > FULL_PASS_MS) this.trigger();
    }, this.opts.reconcileIntervalMs);
    this.#timer.unref();
    this.trigger();
  }

  /** Asks for a pass; bursts of events coalesce into one pass after the running one. */
  trigger(): void {
    if (!this.#ended) this.#passes.request();
  }

  async #pass(): Promise<void> {
    // Planning before every prefix is listed would unschedule what it has not seen yet.
    if (this.#ended || this.#synced.size < VIEW_PREFIXES.length) return;
    const t0 = performance.now();
    this.#dirty = false;
    const { changes } = decide(this.#view, this.cache);
    this.stats.passes++;
    if (changes.length > 0) {
      const res = await this.opts.registry.schedule.apply(changes, this.leadership.fence);
      if (this.#ended) return;
      this.#view.applyOwn(changes);
      this.stats.writingPasses++;
      this.stats.transactions += res.transactions;
      this.stats.changesWritten += changes.length;
      this.log.info("engine pass wrote changes", {
        changes: changes.length,
        transactions: res.transactions,
      });
    }
    this.stats.lastPassMs = performance.now() - t0;
    this.#lastPassAt = performance.now();
  }

  #failed(err: unknown): void {
    this.#dirty = true;
    if (err instanceof FencedError) {
      this.log.warn("engine write fenced: leadership lost", { error: err.message });
      this.end();
      return;
    }
    // etcd unreachable or a transient error: the next trigger or the timer retries.
    this.log.warn("engine pass failed; will retry", { error: String(err) });
  }

  async settled(): Promise<void> {
    for (;;) {
      if (this.#ended) return;
      const running = this.#passes.running;
      if (this.#synced.size === VIEW_PREFIXES.length && running === undefined) return;
      await (running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const w of this.#watches) void w.close();
  }
}
