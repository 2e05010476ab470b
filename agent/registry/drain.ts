/**
 * @module agent/registry/drain
 * Machines being drained (`drain/<id>`): the engine places no unit there and moves the
 * non-global units it runs to other machines. The key has no lease, so a drained machine that
 * restarts, or loses its lease and rejoins, stays drained until someone undrains it.
 */
import type { Logger } from "../logging/logger.js";
import { type DrainRecord, DrainSchema, encode } from "./codecs.js";
import type { KeyLayout } from "./keys.js";
import type { EtcdKV } from "./kv.js";
import { decodeAll, decodeOne, type Stored } from "./stored.js";

export class DrainStore {
  constructor(
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Marks the machine draining; draining it again keeps the first `since`. */
  async drain(machineId: string): Promise<DrainRecord> {
    const key = this.keys.drain(machineId);
    const record = { since: this.now() };
    const res = await this.kv.txn(
      [{ key, target: "create", equals: 0 }],
      [{ type: "put", key, value: encode(DrainSchema, record) }],
    );
    if (res.succeeded) return record;
    return (await this.get(machineId)) ?? record;
  }

  /** Clears the mark; true if there was one. */
  async undrain(machineId: string): Promise<boolean> {
    const key = this.keys.drain(machineId);
    const res = await this.kv.txn(
      [{ key, target: "create", equals: 0 }],
      [],
      [{ type: "delete", key }],
    );
    return !res.succeeded;
  }

  async get(machineId: string): Promise<DrainRecord | undefined> {
    const kv = await this.kv.get(this.keys.drain(machineId));
    return kv === undefined ? undefined : decodeOne(DrainSchema, kv).value;
  }

  async list(atRevision?: number): Promise<Stored<DrainRecord>[]> {
    const { kvs, revision } = await this.kv.range(this.keys.drainPrefix, atRevision);
    return decodeAll(DrainSchema, kvs, revision, this.log).items;
  }
}
