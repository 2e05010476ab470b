/**
 * @module agent/registry/kv
 * The few etcd v3 operations the registry needs, on etcd3's raw RPC clients: paged range
 * reads at one revision, and transactions of compares + operations. Using the raw clients
 * (rather than etcd3's builders) keeps batch transactions and fencing compares explicit.
 */
import type { Etcd3, ICompare, IKeyValue, IRequestOp } from "etcd3";
import { prefixEnd } from "./keys.js";

export interface StoredKV {
  readonly key: string;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly createRevision: number;
  /** Lease ID as a decimal string ("0" when none). */
  readonly lease: string;
}

export interface RangeResult {
  readonly kvs: StoredKV[];
  /** The store revision the whole listing was read at. */
  readonly revision: number;
}

export type Compare =
  | { readonly key: string; readonly target: "mod" | "create"; readonly equals: number }
  | { readonly key: string; readonly target: "lease"; readonly equals: string }
  /** The key exists (its create revision is above 0). */
  | { readonly key: string; readonly target: "exists" };

export type Op =
  | { readonly type: "put"; readonly key: string; readonly value: Buffer; readonly lease?: string }
  | { readonly type: "delete"; readonly key: string }
  | { readonly type: "deletePrefix"; readonly prefix: string };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
}

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;

const PAGE = 1000;

export function toKV(kv: IKeyValue): StoredKV {
  return {
    key: kv.key.toString("utf8"),
    value: kv.value,
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
    lease: String(kv.lease ?? "0"),
  };
}

export class EtcdKV {
  constructor(readonly client: Etcd3) {}

  async get(key: string): Promise<StoredKV | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv === undefined ? undefined : toKV(kv);
  }

  /**
   * Every key under `prefix`, read in pages at one revision so the listing is a consistent
   * snapshot (a 10,000-unit listing would exceed gRPC's message limit in one response).
   */
  async range(prefix: string, atRevision?: number): Promise<RangeResult> {
    const end = prefixEnd(Buffer.from(prefix));
    const kvs: StoredKV[] = [];
    let from = Buffer.from(prefix);
    let revision = atRevision ?? 0;
    for (;;) {
      const res = await this.client.kv.range({
        key: from,
        range_end: end,
        limit: PAGE,
        revision: revision === 0 ? undefined : revision,
        sort_order: "Ascend",
        sort_target: "Key",
      });
      if (revision === 0) revision = Number(res.header.revision);
      for (const kv of res.kvs) kvs.push(toKV(kv));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || last === undefined) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { kvs, revision };
  }

  async txn(compares: readonly Compare[], success: readonly Op[], failure: readonly Op[] = []) {
    const res = await this.client.kv.txn({
      compare: compares.map(toCompare),
      success: success.map(toRequestOp),
      failure: failure.map(toRequestOp),
    });
    return { succeeded: res.succeeded, revision: Number(res.header.revision) } satisfies TxnResult;
  }
}

function toCompare(c: Compare): ICompare {
  const key = Buffer.from(c.key);
  switch (c.target) {
    case "mod":
      return { key, target: "Mod", result: "Equal", mod_revision: c.equals };
    case "create":
      return { key, target: "Create", result: "Equal", create_revision: c.equals };
    case "lease":
      return { key, target: "Lease", result: "Equal", lease: c.equals };
    case "exists":
      return { key, target: "Create", result: "Greater", create_revision: 0 };
  }
}

function toRequestOp(op: Op): IRequestOp {
  switch (op.type) {
    case "put":
      return {
        request_put: {
          key: Buffer.from(op.key),
          value: op.value,
          ...(op.lease === undefined ? {} : { lease: op.lease }),
        },
      };
    case "delete":
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case "deletePrefix": {
      const key = Buffer.from(op.prefix);
      return { request_delete_range: { key, range_end: prefixEnd(key) } };
    }
  }
}
