/**
 * @module agent/registry/states
 * What systemd reports about each unit on each machine (`states/<unit>/<machine>`). Each
 * agent writes its own, on its lease: a dead machine's states vanish with it.
 */
import type { Logger } from "../logging/logger.js";
import { encode, type UnitStateRecord, UnitStateRecordSchema } from "./codecs.js";
import type { KeyLayout } from "./keys.js";
import type { EtcdKV, Op } from "./kv.js";
import { MAX_TXN_OPS } from "./kv.js";
import { decodeAll, type Listing } from "./stored.js";

export interface UnitStateView extends UnitStateRecord {
  readonly unit: string;
  readonly machineId: string;
}

export class StateStore {
  constructor(
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly log: Logger,
  ) {}

  /** Publishes several states (and removals) for one machine, batched. */
  async publish(
    machineId: string,
    leaseId: string,
    changes: readonly { unit: string; state: UnitStateRecord | undefined }[],
  ): Promise<void> {
    const ops: Op[] = changes.map(({ unit, state }) =>
      state === undefined
        ? { type: "delete", key: this.keys.state(unit, machineId) }
        : {
            type: "put",
            key: this.keys.state(unit, machineId),
            value: encode(UnitStateRecordSchema, state),
            lease: leaseId,
          },
    );
    for (let i = 0; i < ops.length; i += MAX_TXN_OPS) {
      await this.kv.txn([], ops.slice(i, i + MAX_TXN_OPS));
    }
  }

  /**
   * The states of one machine stored on one lease: what a restarted fleetd that resumed its
   * predecessor's lease finds already published (one read of the whole `states/`, at start).
   */
  async heldBy(machineId: string, leaseId: string): Promise<Map<string, UnitStateRecord>> {
    const { listing } = await this.list();
    const held = new Map<string, UnitStateRecord>();
    for (const item of listing.items) {
      const parts = this.keys.parse(item.key, "states");
      if (parts?.length === 2 && parts[1] === machineId && item.lease === leaseId)
        held.set(parts[0] as string, item.value);
    }
    return held;
  }

  async list(
    unit?: string,
  ): Promise<{ states: UnitStateView[]; listing: Listing<UnitStateRecord> }> {
    const { kvs, revision } = await this.kv.range(this.keys.statesPrefix(unit));
    const listing = decodeAll(UnitStateRecordSchema, kvs, revision, this.log);
    const states: UnitStateView[] = [];
    for (const item of listing.items) {
      const parts = this.keys.parse(item.key, "states");
      if (parts?.length !== 2) continue;
      states.push({ ...item.value, unit: parts[0] as string, machineId: parts[1] as string });
    }
    return { states, listing };
  }
}
