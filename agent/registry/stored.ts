/**
 * @module agent/registry/stored
 * A decoded value together with the revisions that guard changes to it, and a listing that
 * keeps the values it could not read apart (logged, never thrown inside a loop).
 */
import type { z } from "zod";
import type { Logger } from "../logging/logger.js";
import { type CorruptValue, decode } from "./codecs.js";
import { CorruptValueError } from "./errors.js";
import type { StoredKV } from "./kv.js";

export interface Stored<T> {
  readonly key: string;
  readonly value: T;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly lease: string;
}

export interface Listing<T> {
  readonly items: Stored<T>[];
  readonly corrupt: CorruptValue[];
  /** The revision the listing was read at: watch from revision + 1. */
  readonly revision: number;
}

export function decodeAll<T>(
  schema: z.ZodType<T>,
  kvs: readonly StoredKV[],
  revision: number,
  log: Logger,
): Listing<T> {
  const items: Stored<T>[] = [];
  const corrupt: CorruptValue[] = [];
  for (const kv of kvs) {
    const d = decode(schema, kv.key, kv.value);
    if (d.ok) {
      items.push({ ...kv, value: d.value });
    } else {
      corrupt.push(d.corrupt);
      log.warn("skipping unreadable etcd value", { key: kv.key, problem: d.corrupt.problem });
    }
  }
  return { items, corrupt, revision };
}

/** One key read on purpose (e.g. by the API): an unreadable value is an error to report. */
export function decodeOne<T>(schema: z.ZodType<T>, kv: StoredKV): Stored<T> {
  const d = decode(schema, kv.key, kv.value);
  if (!d.ok) throw new CorruptValueError(d.corrupt.key, d.corrupt.problem);
  return { ...kv, value: d.value };
}
