/**
 * @module agent/api/event-feed
 * The event stream's source: one etcd watch over the whole key prefix, a live RecordSet built
 * from it, and the wire objects last derived from it. Each etcd revision's changes are turned
 * into the v1 objects they change (a schedule, state or reason change re-derives the unit,
 * because the unit object shows machineID, currentState and reason) and each object whose JSON
 * changed becomes one message, serialized once for every subscriber.
 *
 * A feed starts either at the current revision, or at an older one (resume): then it lists the
 * prefix as it was at that revision and watches from the next, so a resumed client gets every
 * change it missed, each once. When etcd cancels the watch (compaction while the feed lagged),
 * the feed lists again and sends the net differences at the new listing's revision.
 */
import type { IWatchResponse, Watcher } from "etcd3";
import type { Logger } from "../logging/logger.js";
import type { StoredKV } from "../registry/kv.js";
import type { Registry } from "../registry/registry.js";
import { isUnreadable, RecordSet, type Touched } from "./record-set.js";

export type EventKind = "unit" | "state" | "machine";

export interface FeedMessage {
  readonly kind: EventKind;
  readonly revision: number;
  /** The whole message as sent. */
  readonly json: string;
}

/** `from` is older than etcd's compaction: the client must start again with a snapshot. */
export class CompactedError extends Error {
  override name = "CompactedError";
}

/** `from` is newer than etcd's current revision. */
export class FutureRevisionError extends Error {
  override name = "FutureRevisionError";
}

type Listener = (batch: readonly FeedMessage[]) => void;

const sep = "\u0000";

export class RegistryFeed {
  #set: RecordSet;
  #revision: number;
  readonly #units = new Map<string, string>();
  readonly #machines = new Map<string, string>();
  readonly #states = new Map<string, string>();
  readonly #listeners = new Set<Listener>();
  #watcher: Watcher | undefined;
  #closed = false;
  #chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
    set: RecordSet,
    revision: number,
  ) {
    this.#set = set;
    this.#revision = revision;
  }

  /** Starts at the current revision, or at `atRevision` (CompactedError if etcd lost it). */
  static async start(registry: Registry, log: Logger, atRevision?: number): Promise<RegistryFeed> {
    let listing: { kvs: StoredKV[]; revision: number };
    try {
      listing = await registry.kv.range(registry.keys.prefix, atRevision);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (/compacted/.test(msg))
        throw new CompactedError(
          `revision ${atRevision} was compacted by etcd: reconnect with snapshot=true`,
        );
      if (/future revision/.test(msg))
        throw new FutureRevisionError(`revision ${atRevision} is newer than etcd's current one`);
      throw err;
    }
    const feed = new RegistryFeed(registry, log, new RecordSet(registry.keys), listing.revision);
    feed.#load(listing.kvs);
    await feed.#watchFrom(listing.revision + 1);
    return feed;
  }

  get revision(): number {
    return this.#revision;
  }

  #load(kvs: readonly StoredKV[]): void {
    for (const kv of kvs) this.#note(this.#set.apply(kv.key, kv.value));
    for (const name of this.#set.units.keys()) this.#derive({ kind: "unit", name }, 0);
    for (const id of this.#set.machines.keys()) this.#derive({ kind: "machine", id }, 0);
    for (const [name, byMachine] of this.#set.states)
      for (const machineId of byMachine.keys()) this.#derive({ kind: "state", name, machineId }, 0);
  }

  #note(t: ReturnType<RecordSet["apply"]>): Touched | undefined {
    if (isUnreadable(t)) {
      this.log.warn("event stream skips unreadable etcd value", { key: t.key, problem: t.problem });
      return undefined;
    }
    return t;
  }

  /** The message for `t` if its wire object changed since last derived (and records it). */
  #derive(t: Touched, revision: number): FeedMessage | undefined {
    switch (t.kind) {
      case "unit": {
        const w = this.#set.wireUnit(t.name);
        const json = w === undefined ? undefined : JSON.stringify(w);
        if (json === this.#units.get(t.name)) return undefined;
        const name = JSON.stringify(t.name);
        if (json === undefined) {
          this.#units.delete(t.name);
          return msg("unit", revision, `"op":"delete","revision":${revision},"name":${name}`);
        }
        this.#units.set(t.name, json);
        return msg(
          "unit",
          revision,
          `"op":"put","revision":${revision},"name":${name},"unit":${json}`,
        );
      }
      case "state": {
        const key = `${t.name}${sep}${t.machineId}`;
        const w = this.#set.wireState(t.name, t.machineId);
        const json = w === undefined ? undefined : JSON.stringify(w);
        if (json === this.#states.get(key)) return undefined;
        const ids = `"name":${JSON.stringify(t.name)},"machineID":${JSON.stringify(t.machineId)}`;
        if (json === undefined) {
          this.#states.delete(key);
          return msg("state", revision, `"op":"delete","revision":${revision},${ids}`);
        }
        this.#states.set(key, json);
        return msg("state", revision, `"op":"put","revision":${revision},${ids},"state":${json}`);
      }
      case "machine": {
        const w = this.#set.wireMachine(t.id);
        const json = w === undefined ? undefined : JSON.stringify(w);
        if (json === this.#machines.get(t.id)) return undefined;
        const id = JSON.stringify(t.id);
        if (json === undefined) {
          this.#machines.delete(t.id);
          return msg("machine", revision, `"op":"delete","revision":${revision},"id":${id}`);
        }
        this.#machines.set(t.id, json);
        return msg(
          "machine",
          revision,
          `"op":"put","revision":${revision},"id":${id},"machine":${json}`,
        );
      }
    }
  }

  /** Every current object as a put at the feed's revision: units, then states, then machines. */
  snapshot(): FeedMessage[] {
    const r = this.#revision;
    const out: FeedMessage[] = [];
    for (const [name, json] of [...this.#units].sort(byKey))
      out.push(
        msg("unit", r, `"op":"put","revision":${r},"name":${JSON.stringify(name)},"unit":${json}`),
      );
    for (const [key, json] of [...this.#states].sort(byKey)) {
      const [name, machineId] = key.split(sep) as [string, string];
      const ids = `"name":${JSON.stringify(name)},"machineID":${JSON.stringify(machineId)}`;
      out.push(msg("state", r, `"op":"put","revision":${r},${ids},"state":${json}`));
    }
    for (const [id, json] of [...this.#machines].sort(byKey))
      out.push(
        msg(
          "machine",
          r,
          `"op":"put","revision":${r},"id":${JSON.stringify(id)},"machine":${json}`,
        ),
      );
    return out;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  #emit(batch: readonly FeedMessage[]): void {
    if (batch.length === 0) return;
    for (const l of [...this.#listeners]) {
      try {
        l(batch);
      } catch (err) {
        this.log.error("event subscriber failed; dropping it", { error: String(err) });
        this.#listeners.delete(l);
      }
    }
  }

  async #watchFrom(revision: number): Promise<void> {
    if (this.#closed) return;
    const watcher = await this.registry.client
      .watch()
      .prefix(this.registry.keys.prefix)
      .startRevision(String(revision))
      .create();
    if (this.#closed) {
      await watcher.cancel();
      return;
    }
    this.#watcher = watcher;
    watcher.on("data", (res: IWatchResponse) => {
      if (this.#watcher !== watcher) return;
      this.#onData(res);
    });
    watcher.on("error", (err: Error) => {
      if (this.#closed || this.#watcher !== watcher) return;
      this.#watcher = undefined;
      this.log.warn("event stream's watch canceled by etcd; listing again", {
        error: err.message,
      });
      this.#chain = this.#chain.then(() => this.#resyncWithRetry());
    });
  }

  #onData(res: IWatchResponse): void {
    // Events of one revision (one transaction) are applied together, then derived.
    let batch: FeedMessage[] = [];
    let touched = new Map<string, Touched>();
    let current = 0;
    const flush = () => {
      for (const t of touched.values()) {
        const m = this.#derive(t, current);
        if (m !== undefined) batch.push(m);
      }
      touched = new Map();
    };
    for (const e of res.events) {
      const rev = Number(e.kv.mod_revision);
      if (rev <= this.#revision) continue; // already in the listing a resync made
      if (rev !== current) {
        flush();
        current = rev;
      }
      const t = this.#note(
        this.#set.apply(e.kv.key.toString("utf8"), e.type === "Delete" ? undefined : e.kv.value),
      );
      if (t === undefined) continue;
      const id =
        t.kind === "unit"
          ? `u${sep}${t.name}`
          : t.kind === "machine"
            ? `m${sep}${t.id}`
            : `s${sep}${t.name}${sep}${t.machineId}`;
      touched.set(id, t);
      // The unit object's currentState follows the state its agent reports (with the unit's
      // hash): derive the unit again too; it is sent only if its JSON changed.
      if (t.kind === "state") touched.set(`u${sep}${t.name}`, { kind: "unit", name: t.name });
    }
    flush();
    if (current > this.#revision) this.#revision = current;
    const out = batch;
    batch = [];
    this.#emit(out);
  }

  async #resyncWithRetry(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#resync();
        return;
      } catch (err) {
        this.log.warn("event stream listing failed; retrying", { error: String(err) });
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  async #resync(): Promise<void> {
    const listing = await this.registry.kv.range(this.registry.keys.prefix);
    if (this.#closed) return;
    const before = {
      units: [...this.#units.keys()],
      machines: [...this.#machines.keys()],
      states: [...this.#states.keys()],
    };
    this.#set = new RecordSet(this.registry.keys);
    for (const kv of listing.kvs) this.#note(this.#set.apply(kv.key, kv.value));
    const r = listing.revision;
    const touched: Touched[] = [...new Set([...before.units, ...this.#set.units.keys()])].map(
      (name) => ({ kind: "unit", name }),
    );
    for (const id of new Set([...before.machines, ...this.#set.machines.keys()]))
      touched.push({ kind: "machine", id });
    const stateKeys = new Set(before.states);
    for (const [name, byMachine] of this.#set.states)
      for (const m of byMachine.keys()) stateKeys.add(`${name}${sep}${m}`);
    for (const key of stateKeys) {
      const [name, machineId] = key.split(sep) as [string, string];
      touched.push({ kind: "state", name, machineId });
    }
    const batch = touched.flatMap((t) => this.#derive(t, r) ?? []);
    this.#revision = Math.max(this.#revision, r);
    this.#emit(batch);
    await this.#watchFrom(r + 1);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const w = this.#watcher;
    this.#watcher = undefined;
    await w?.cancel().catch(() => {});
  }
}

function msg(kind: EventKind, revision: number, rest: string): FeedMessage {
  return { kind, revision, json: `{"type":"${kind}",${rest}}` };
}

const byKey = (a: [string, string], b: [string, string]) =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
