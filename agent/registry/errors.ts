/**
 * @module agent/registry/errors
 * What can go wrong talking to the cluster state, as types callers branch on: the API turns
 * `ConflictError` into 409 and `NotFoundError` into 404; loops log `CorruptValueError` and go on.
 */

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** Someone else changed the same record first; re-read and try again. */
export class ConflictError extends RegistryError {
  override name = "ConflictError";
}

export class NotFoundError extends RegistryError {
  override name = "NotFoundError";
}

/** A stored value that does not match its schema (written by something else, or damaged). */
export class CorruptValueError extends RegistryError {
  override name = "CorruptValueError";
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`etcd value at ${key} is unreadable (${problem}); fix or delete that key`);
  }
}

/** The writer is no longer the leader: its fenced transaction did not apply. */
export class FencedError extends RegistryError {
  override name = "FencedError";
}
