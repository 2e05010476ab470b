/**
 * @module agent/registry/watch
 * A watch on one prefix that never misses an event and never dies:
 * - it starts from a listing (handed to `onResync`) and watches from the revision after it;
 * - etcd3 reconnects a broken stream by itself and resumes after the last revision it saw, so
 *   a reconnect costs no reload;
 * - if etcd compacted past that revision it cancels the watch: then, once, we list again
 *   (`onResync`) and watch from the new listing;
 * - handlers run one batch at a time, in order; an exception in one is logged, not rethrown
 *   (etcd3 would rethrow it from setImmediate and kill fleetd).
 */
import type { Etcd3, IWatchResponse, Watcher } from "etcd3";
import type { Logger } from "../logging/logger.js";
import type { EtcdKV, RangeResult } from "./kv.js";

export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly lease: string;
}

export interface PrefixWatchHandlers {
  /** The whole prefix as of `listing.revision`: replace what you knew. */
  onResync(listing: RangeResult): void | Promise<void>;
  /** Changes after the last listing or batch, in revision order. */
  onEvents(events: readonly WatchEvent[], revision: number): void | Promise<void>;
}

export class PrefixWatch {
  #watcher: Watcher | undefined;
  #closed = false;
  #chain: Promise<void> = Promise.resolve();
  #revision = 0;
  /** How many full resyncs happened after the first listing (compactions). */
  resyncs = 0;

  private constructor(
    private readonly client: Etcd3,
    private readonly kv: EtcdKV,
    readonly prefix: string,
    private readonly handlers: PrefixWatchHandlers,
    private readonly log: Logger,
  ) {}

  static async start(opts: {
    client: Etcd3;
    kv: EtcdKV;
    prefix: string;
    handlers: PrefixWatchHandlers;
    log: Logger;
  }): Promise<PrefixWatch> {
    const w = new PrefixWatch(opts.client, opts.kv, opts.prefix, opts.handlers, opts.log);
    await w.#resync();
    return w;
  }

  /** The last revision handled. */
  get revision(): number {
    return this.#revision;
  }

  /** Resolves when every batch received so far has been handled. */
  idle(): Promise<void> {
    return this.#chain;
  }

  async #resync(): Promise<void> {
    const listing = await this.kv.range(this.prefix);
    await this.#run(() => this.handlers.onResync(listing), "resync");
    this.#revision = listing.revision;
    await this.#watchFrom(listing.revision + 1);
  }

  async #watchFrom(revision: number): Promise<void> {
    if (this.#closed) return;
    const watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(revision))
      .create();
    if (this.#closed) {
      await watcher.cancel();
      return;
    }
    this.#watcher = watcher;
    watcher.on("data", (res: IWatchResponse) => this.#onData(res));
    watcher.on("disconnected", () => this.log.debug("watch disconnected", { prefix: this.prefix }));
    watcher.on("connected", () => this.log.debug("watch connected", { prefix: this.prefix }));
    watcher.on("error", (err: Error) => {
      if (this.#closed || this.#watcher !== watcher) return;
      this.#watcher = undefined;
      this.log.warn("watch canceled by etcd; listing again", {
        prefix: this.prefix,
        error: err.message,
      });
      this.resyncs++;
      this.#chain = this.#chain.then(() => this.#resyncWithRetry());
    });
  }

  async #resyncWithRetry(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#resync();
        return;
      } catch (err) {
        const delay = Math.min(5000, 100 * 2 ** attempt);
        this.log.warn("listing failed; retrying", { prefix: this.prefix, error: String(err) });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  #onData(res: IWatchResponse): void {
    const events: WatchEvent[] = res.events.map((e) => ({
      type: e.type === "Delete" ? "delete" : "put",
      key: e.kv.key.toString("utf8"),
      value: e.kv.value,
      modRevision: Number(e.kv.mod_revision),
      lease: String(e.kv.lease ?? "0"),
    }));
    if (events.length === 0) return; // progress notification
    const revision = Number(res.header.revision);
    this.#chain = this.#chain.then(async () => {
      // After a resync the listing already holds these.
      const fresh = events.filter((e) => e.modRevision > this.#revision);
      if (fresh.length === 0) return;
      await this.#run(() => this.handlers.onEvents(fresh, revision), "events");
      this.#revision = Math.max(this.#revision, revision);
    });
  }

  async #run(fn: () => void | Promise<void>, what: string): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error(`watch handler failed on ${what}; continuing`, {
        prefix: this.prefix,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#watcher;
    this.#watcher = undefined;
    await w?.cancel();
  }
}
