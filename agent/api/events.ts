/**
 * @module agent/api/events
 * GET /fleet/v1/events (WebSocket): units, states and machines as they change.
 *
 * Fan-out: connections share one RegistryFeed (one etcd watch per fleetd, started with the
 * first client and closed a while after the last one leaves), which keeps its recent messages.
 * A connection with `from` is served from those when they reach back to `from`; older than
 * that, it needs changes the shared feed never held: it gets a feed of its own, listed at
 * `from` and watching from `from + 1`, for as long as it stays connected (docs/api.md). Each
 * client has its own bounded outbox (agent/api/outbox.ts): a slow one never holds others back.
 */
import type { WebSocket } from "ws";
import type { Logger } from "../logging/logger.js";
import type { Registry } from "../registry/registry.js";
import { ApiError } from "./errors.js";
import {
  CompactedError,
  type EventKind,
  type FeedMessage,
  FutureRevisionError,
  RegistryFeed,
} from "./event-feed.js";
import { History } from "./history.js";
import { keepAlive } from "./keepalive.js";
import { Outbox } from "./outbox.js";

const KINDS: readonly EventKind[] = ["unit", "state", "machine"];
/** How long the shared feed outlives its last client (a reconnect does not re-list). */
const SHARED_IDLE_MS = 30_000;
/** Live messages a client may leave unread before it is dropped. */
export /** How often a catching-up client checks whether it can join the shared feed. */
const HANDOVER_CHECK_MS = 200;
const DEFAULT_CLIENT_LIMIT_BYTES = 8 << 20;

export interface EventQuery {
  readonly from: number | undefined;
  readonly snapshot: boolean;
  readonly kinds: ReadonlySet<EventKind>;
}

/** Validates the query before the upgrade: a bad one is a 400 naming the parameter. */
export function parseEventQuery(params: URLSearchParams): EventQuery {
  for (const key of params.keys()) {
    if (!["from", "snapshot", "kinds"].includes(key))
      throw new ApiError(400, `unknown query parameter ${key}: use from, snapshot or kinds`);
  }
  const fromText = params.get("from");
  let from: number | undefined;
  if (fromText !== null) {
    if (!/^\d+$/.test(fromText) || !Number.isSafeInteger(Number(fromText)))
      throw new ApiError(400, `from=${fromText} is not an etcd revision (a whole number >= 0)`);
    from = Number(fromText);
  }
  const snapText = params.get("snapshot");
  if (snapText !== null && snapText !== "true" && snapText !== "false")
    throw new ApiError(400, `snapshot=${snapText}: use snapshot=true or snapshot=false`);
  const snapshot = snapText === "true";
  if (snapshot && from !== undefined)
    throw new ApiError(
      400,
      "from and snapshot=true cannot be combined: resume with from, or start over with snapshot",
    );
  const kindsText = params.get("kinds");
  let kinds = new Set<EventKind>(KINDS);
  if (kindsText !== null) {
    const list = kindsText.split(",").map((k) => k.trim());
    const bad = list.filter((k) => !(KINDS as readonly string[]).includes(k));
    if (bad.length > 0 || list.length === 0)
      throw new ApiError(
        400,
        `kinds=${kindsText}: use a comma-separated list of unit, state, machine`,
      );
    kinds = new Set(list as EventKind[]);
  }
  return { from, snapshot, kinds };
}

export interface EventHubOptions {
  readonly registry: Registry;
  readonly log: Logger;
  /** Per-client bound on unsent live messages (default 8 MiB). */
  readonly clientLimitBytes?: number;
  /** Recent messages the shared feed keeps for clients that resume (default 8 MiB). */
  readonly historyBytes?: number;
}

interface Shared {
  readonly feed: RegistryFeed;
  readonly history: History;
  clients: number;
}

export class EventHub {
  readonly #log: Logger;
  #shared: Promise<Shared> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #clients = new Set<WebSocket>();
  readonly #private = new Set<RegistryFeed>();
  #closed = false;

  constructor(private readonly opts: EventHubOptions) {
    this.#log = opts.log.with({ component: "events" });
  }

  /** Connected clients (tests, metrics). */
  get clients(): number {
    return this.#clients.size;
  }

  /** Feeds with their own etcd watch: the shared one (if running) plus one per resumed client. */
  get watches(): number {
    return (this.#shared === undefined ? 0 : 1) + this.#private.size;
  }

  #acquireShared(): Promise<Shared> {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (this.#shared === undefined) {
      const starting = RegistryFeed.start(this.opts.registry, this.#log).then((feed) => {
        const history = new History(feed.revision, this.opts.historyBytes ?? 8 << 20);
        feed.subscribe((batch) => history.add(batch));
        return { feed, history, clients: 0 };
      });
      this.#shared = starting;
      starting.catch(() => {
        if (this.#shared === starting) this.#shared = undefined;
      });
    }
    const shared = this.#shared;
    return shared.then((s) => {
      s.clients++;
      return s;
    });
  }

  #releaseShared(shared: Shared): void {
    shared.clients--;
    if (shared.clients > 0 || this.#closed) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (shared.clients > 0) return;
      this.#shared = undefined;
      void shared.feed.close();
    }, SHARED_IDLE_MS);
    this.#idleTimer.unref();
  }

  /** Serves one upgraded connection until it closes. */
  async serve(ws: WebSocket, query: EventQuery): Promise<void> {
    if (this.#closed) {
      ws.close(1001, "fleetd is stopping");
      return;
    }
    this.#clients.add(ws);
    let closed = false;
    const cleanups: (() => void)[] = [];
    const done = () => {
      if (closed) return;
      closed = true;
      this.#clients.delete(ws);
      for (const c of cleanups.splice(0)) c();
    };
    ws.on("close", done);
    ws.on("error", (err) => {
      this.#log.debug("event client socket error", { error: err.message });
      done();
    });
    const outbox = new Outbox(ws, this.opts.clientLimitBytes ?? DEFAULT_CLIENT_LIMIT_BYTES, (n) => {
      this.#log.warn("dropping an event client that does not keep up", { unsentBytes: n });
      // Close at once: the reason must not wait behind the backlog it is about.
      ws.close(1008, `client too slow: more than ${n} bytes of events unsent; reconnect with from`);
      setTimeout(() => ws.terminate(), 30_000).unref();
    });
    cleanups.push(() => outbox.close());
    keepAlive(ws, cleanups);
    const forwardAfter = (revision: number) => (batch: readonly FeedMessage[]) => {
      for (const m of batch)
        if (m.revision > revision && query.kinds.has(m.kind)) outbox.push(m.json);
    };
    const fatal = (code: number, message: string) => {
      outbox.push(JSON.stringify({ type: "error", code, message }));
      ws.close(4000 + code, message.slice(0, 120));
    };

    let shared: Shared;
    try {
      shared = await this.#acquireShared();
    } catch (err) {
      this.#log.error("event stream cannot start", { error: String(err) });
      return fatal(503, `cannot read etcd: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (closed || this.#closed) return this.#releaseShared(shared);
    const { feed, history } = shared;
    const from = query.from;

    if (from !== undefined && (from < history.coveredAfter || from > feed.revision)) {
      // Older than what the shared feed holds (or newer than it has seen): a feed of its own
      // to catch up, listed at `from`; once it has reached the shared feed, the client is
      // handed over to it and the private watch ends (dashboards resuming after a fleetd
      // restart would otherwise each keep a watch and a copy of the cluster for good).
      cleanups.push(() => this.#releaseShared(shared));
      let own: RegistryFeed;
      try {
        own = await RegistryFeed.start(this.opts.registry, this.#log, from);
      } catch (err) {
        if (err instanceof CompactedError) return fatal(410, err.message);
        if (err instanceof FutureRevisionError) return fatal(400, err.message);
        this.#log.error("event stream cannot start", { error: String(err) });
        return fatal(503, `cannot read etcd: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (closed || this.#closed) return void own.close();
      this.#private.add(own);
      const endOwn = () => {
        if (!this.#private.delete(own)) return;
        void own.close();
      };
      cleanups.push(endOwn);
      // The client holds everything up to `from`: it is resumed there; what follows is newer.
      outbox.push(JSON.stringify({ type: "ready", revision: from }));
      const forwardOwn = forwardAfter(from);
      let handedOver = false;
      const handOver = () => {
        if (handedOver || closed) return;
        const at = own.revision;
        // Both feeds apply the same etcd events; at the same revision they hold the same
        // objects, so what the shared one derived after `at` is exactly what this one would.
        if (at < history.coveredAfter || at > feed.revision) return;
        handedOver = true;
        unsubscribeOwn();
        clearInterval(timer);
        for (const m of history.since(at)) if (query.kinds.has(m.kind)) outbox.push(m.json);
        cleanups.push(feed.subscribe(forwardAfter(feed.revision)));
        endOwn();
      };
      const unsubscribeOwn = own.subscribe((batch) => {
        forwardOwn(batch);
        handOver();
      });
      cleanups.push(unsubscribeOwn);
      const timer = setInterval(handOver, HANDOVER_CHECK_MS);
      timer.unref();
      cleanups.push(() => clearInterval(timer));
      handOver();
      return;
    }

    // Synchronous from here to subscribe: nothing the feed emits can fall in between.
    if (from !== undefined) {
      outbox.push(JSON.stringify({ type: "ready", revision: from }));
      for (const m of history.since(from)) if (query.kinds.has(m.kind)) outbox.push(m.json);
    } else {
      if (query.snapshot)
        outbox.pushSnapshot(
          feed.snapshot().flatMap((m) => (query.kinds.has(m.kind) ? m.json : [])),
        );
      outbox.push(JSON.stringify({ type: "ready", revision: feed.revision }));
    }
    const unsubscribe = feed.subscribe(forwardAfter(from ?? feed.revision));
    cleanups.push(() => {
      unsubscribe();
      this.#releaseShared(shared);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    for (const ws of this.#clients) ws.close(1001, "fleetd is stopping");
    for (const ws of this.#clients) ws.terminate();
    const shared = this.#shared;
    this.#shared = undefined;
    await shared?.then((s) => s.feed.close()).catch(() => {});
    for (const f of this.#private) await f.close();
    this.#private.clear();
  }
}
