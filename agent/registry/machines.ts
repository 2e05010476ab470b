/**
 * @module agent/registry/machines
 * Machines: each agent's presence (`machines/<id>`, on its lease, so a dead host disappears
 * within agent_ttl) and the metadata set through the API (`metadata/<id>`, no lease, so it
 * survives the host's rejoin and may even be set before the host first joins).
 */
import { EventEmitter } from "node:events";
import type { Etcd3 } from "etcd3";
import type { Logger } from "../logging/logger.js";
import {
  encode,
  type MachineRecord,
  MachineRecordSchema,
  type MetadataOverrides,
  MetadataOverridesSchema,
} from "./codecs.js";
import { ConflictError } from "./errors.js";
import type { KeyLayout } from "./keys.js";
import type { EtcdKV } from "./kv.js";
import { LeaseKeeper } from "./leases.js";
import { decodeAll, decodeOne, type Listing } from "./stored.js";

/** A live machine as everyone else sees it: config metadata with the API's changes merged. */
export interface MachineView {
  readonly id: string;
  readonly publicIP: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly version: string;
  readonly apiUrl: string | undefined;
  readonly startedAt: number;
}

export type MetadataPatch =
  | { readonly op: "add" | "replace"; readonly key: string; readonly value: string }
  | { readonly op: "remove"; readonly key: string };

export function mergeMetadata(
  own: Readonly<Record<string, string>>,
  overrides: MetadataOverrides | undefined,
): Record<string, string> {
  const merged: Record<string, string> = { ...own };
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

export class MachineStore {
  constructor(
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly log: Logger,
  ) {}

  async listRecords(atRevision?: number): Promise<Listing<MachineRecord>> {
    const { kvs, revision } = await this.kv.range(this.keys.machinesPrefix, atRevision);
    return decodeAll(MachineRecordSchema, kvs, revision, this.log);
  }

  async listOverrides(atRevision?: number): Promise<Listing<MetadataOverrides>> {
    const { kvs, revision } = await this.kv.range(this.keys.metadataPrefix, atRevision);
    return decodeAll(MetadataOverridesSchema, kvs, revision, this.log);
  }

  /** Live machines with their effective metadata, read at one revision. */
  async list(): Promise<{ machines: MachineView[]; revision: number }> {
    const records = await this.listRecords();
    const overrides = await this.listOverrides(records.revision);
    const byId = new Map<string, MetadataOverrides>();
    for (const o of overrides.items) {
      const id = this.keys.parse(o.key, "metadata")?.[0];
      if (id !== undefined) byId.set(id, o.value);
    }
    const machines = records.items.map(({ value: m }) => ({
      id: m.id,
      publicIP: m.publicIP,
      metadata: mergeMetadata(m.metadata, byId.get(m.id)),
      version: m.version,
      apiUrl: m.apiUrl,
      startedAt: m.startedAt,
    }));
    return { machines, revision: records.revision };
  }

  /**
   * Applies JSON-Patch-like metadata changes for one machine atomically (the API's PATCH).
   * A `remove` of a key that came from the machine's own config hides it (stored as null).
   */
  async patchMetadata(machineId: string, patches: readonly MetadataPatch[]): Promise<void> {
    const key = this.keys.metadata(machineId);
    const current = await this.kv.get(key);
    const overrides: MetadataOverrides =
      current === undefined ? {} : { ...decodeOne(MetadataOverridesSchema, current).value };
    for (const p of patches) {
      overrides[p.key] = p.op === "remove" ? null : p.value;
    }
    const guard =
      current === undefined
        ? { key, target: "create" as const, equals: 0 }
        : { key, target: "mod" as const, equals: current.modRevision };
    const res = await this.kv.txn(
      [guard],
      [{ type: "put", key, value: encode(MetadataOverridesSchema, overrides) }],
    );
    if (!res.succeeded) {
      throw new ConflictError(
        `metadata of machine ${machineId} was changed by someone else at the same time; retry`,
      );
    }
  }
}

export interface PresenceEvents {
  /** The lease was lost and replaced: every key on the old lease (unit states) must be put again. */
  leaseReplaced: [leaseId: string];
  /** No keepalive for a whole TTL: the machine may already be gone from etcd's view. */
  stale: [];
  fresh: [];
}

/**
 * This agent's own presence. Registers `machines/<id>` on a lease, renews it, and when etcd
 * says the lease is gone, takes a new one and registers again.
 */
export class MachinePresence extends EventEmitter<PresenceEvents> {
  #lease: LeaseKeeper;
  #record: MachineRecord;
  #closed = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly log: Logger,
    lease: LeaseKeeper,
    record: MachineRecord,
    private readonly ttlSeconds: number,
  ) {
    super();
    this.#lease = lease;
    this.#record = record;
    this.#watchLease(lease);
  }

  /**
   * Registers the machine. With `resumeLeaseId` (kept by a previous fleetd on this host) the
   * old lease is adopted when etcd still has it, so nothing the old process registered
   * disappears; otherwise a new lease is granted.
   */
  static async register(opts: {
    client: Etcd3;
    kv: EtcdKV;
    keys: KeyLayout;
    log: Logger;
    record: MachineRecord;
    ttlSeconds: number;
    resumeLeaseId?: string;
  }): Promise<MachinePresence> {
    let lease: LeaseKeeper | undefined;
    if (opts.resumeLeaseId !== undefined) {
      lease = await LeaseKeeper.resume(opts.client, opts.resumeLeaseId, opts.log).catch(
        () => undefined,
      );
      if (lease !== undefined)
        opts.log.info("resumed lease of previous fleetd", { lease: lease.id });
    }
    lease ??= await LeaseKeeper.grant(opts.client, opts.ttlSeconds, opts.log);
    const presence = new MachinePresence(
      opts.client,
      opts.kv,
      opts.keys,
      opts.log,
      lease,
      opts.record,
      opts.ttlSeconds,
    );
    await presence.#put();
    return presence;
  }

  get leaseId(): string {
    return this.#lease.id;
  }

  get lease(): LeaseKeeper {
    return this.#lease;
  }

  async #put(): Promise<void> {
    await this.kv.txn(
      [],
      [
        {
          type: "put",
          key: this.keys.machine(this.#record.id),
          value: encode(MachineRecordSchema, this.#record),
          lease: this.#lease.id,
        },
      ],
    );
  }

  /** Changes what this machine advertises (e.g. its API URL once listening). */
  async update(record: MachineRecord): Promise<void> {
    this.#record = record;
    await this.#put();
  }

  #watchLease(lease: LeaseKeeper): void {
    lease.on("stale", () => this.emit("stale"));
    lease.on("fresh", () => this.emit("fresh"));
    lease.on("expired", () => {
      if (this.#closed) return;
      void this.#replaceLease();
    });
  }

  async #replaceLease(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const lease = await LeaseKeeper.grant(this.client, this.ttlSeconds, this.log);
        this.#lease = lease;
        this.#watchLease(lease);
        await this.#put();
        this.log.info("registered again under a new lease", { lease: lease.id });
        this.emit("leaseReplaced", lease.id);
        return;
      } catch (err) {
        const delay = Math.min(5000, 100 * 2 ** attempt);
        this.log.warn("cannot register machine again; retrying", {
          error: String(err),
          retryInMs: delay,
        });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Leaves the machine registered until its lease expires (fleetd restarts keep units). */
  close(): void {
    this.#closed = true;
    this.#lease.close();
  }

  /** Removes the machine and everything on its lease now (planned removal). */
  async revoke(): Promise<void> {
    this.#closed = true;
    await this.#lease.revoke();
  }
}
