/**
 * @module agent/registry/units
 * The units users submitted (`units/<name>`). Every change is a compare-and-swap on the
 * revision the caller read: two API calls racing on one unit never lose an update, the
 * second gets a ConflictError and can re-read.
 */
import type { Logger } from "../logging/logger.js";
import { encode, type UnitRecord, UnitRecordSchema } from "./codecs.js";
import { ConflictError, NotFoundError } from "./errors.js";
import type { KeyLayout } from "./keys.js";
import type { EtcdKV } from "./kv.js";
import { decodeAll, decodeOne, type Listing, type Stored } from "./stored.js";

export type DesiredState = UnitRecord["desiredState"];

export interface WriteGuard {
  /** Apply only if the record still has this mod revision (what the caller read). */
  readonly ifModRevision?: number;
}

export class UnitStore {
  constructor(
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly log: Logger,
  ) {}

  /** Stores a new unit; ConflictError if one of that name exists. */
  async create(unit: UnitRecord): Promise<Stored<UnitRecord>> {
    const key = this.keys.unit(unit.name);
    const value = encode(UnitRecordSchema, unit);
    const res = await this.kv.txn(
      [{ key, target: "create", equals: 0 }],
      [{ type: "put", key, value }],
    );
    if (!res.succeeded) {
      throw new ConflictError(
        `unit ${unit.name} already exists; destroy it first or change its desired state`,
      );
    }
    return {
      key,
      value: unit,
      modRevision: res.revision,
      createRevision: res.revision,
      lease: "0",
    };
  }

  async get(name: string): Promise<Stored<UnitRecord> | undefined> {
    const kv = await this.kv.get(this.keys.unit(name));
    return kv === undefined ? undefined : decodeOne(UnitRecordSchema, kv);
  }

  async list(atRevision?: number): Promise<Listing<UnitRecord>> {
    const { kvs, revision } = await this.kv.range(this.keys.unitsPrefix, atRevision);
    return decodeAll(UnitRecordSchema, kvs, revision, this.log);
  }

  /**
   * Read-modify-write of one unit, applied only if nobody changed it in between. `change` may
   * throw to refuse (e.g. an illegal transition).
   */
  async update(
    name: string,
    change: (current: UnitRecord) => UnitRecord,
  ): Promise<Stored<UnitRecord>> {
    const current = await this.get(name);
    if (current === undefined) throw new NotFoundError(`unit ${name} does not exist`);
    return this.replace(current, change(current.value));
  }

  /**
   * Writes `next` over a unit the caller has just read, if nobody changed it since: one round
   * trip, for a caller that holds the record already (the API reads it to decide what a PUT
   * means; `update` read it again). Only a failed write reads, to tell 404 from 409.
   */
  async replace(current: Stored<UnitRecord>, next: UnitRecord): Promise<Stored<UnitRecord>> {
    const name = current.value.name;
    if (next.name !== name)
      throw new ConflictError(`unit ${name} cannot be renamed to ${next.name}`);
    const key = current.key;
    const res = await this.kv.txn(
      [{ key, target: "mod", equals: current.modRevision }],
      [{ type: "put", key, value: encode(UnitRecordSchema, next) }],
    );
    if (res.succeeded) return { ...current, value: next, modRevision: res.revision };
    if ((await this.kv.get(key)) === undefined)
      throw new NotFoundError(`unit ${name} does not exist`);
    throw conflict(name);
  }

  async setDesiredState(name: string, desiredState: DesiredState): Promise<Stored<UnitRecord>> {
    return this.update(name, (unit) => ({ ...unit, desiredState }));
  }

  /**
   * Deletes the unit and its unschedulable reason. The leader then removes its schedule
   * entries, and the agents stop and remove it.
   */
  async destroy(name: string, guard: WriteGuard = {}): Promise<void> {
    // One transaction, not a read then a guarded delete: fleetctl destroys units one request at
    // a time, and the read was one of each request's two etcd round trips. Only a failure
    // reads, to tell a missing unit from one changed meanwhile.
    const key = this.keys.unit(name);
    const res = await this.kv.txn(
      [
        guard.ifModRevision === undefined
          ? { key, target: "exists" }
          : { key, target: "mod", equals: guard.ifModRevision },
      ],
      [
        { type: "delete", key },
        { type: "delete", key: this.keys.unschedulable(name) },
      ],
    );
    if (res.succeeded) return;
    if (guard.ifModRevision === undefined || (await this.kv.get(key)) === undefined)
      throw new NotFoundError(`unit ${name} does not exist`);
    throw conflict(name);
  }
}

function conflict(name: string): ConflictError {
  return new ConflictError(
    `unit ${name} was changed by someone else at the same time; read it again and retry`,
  );
}
