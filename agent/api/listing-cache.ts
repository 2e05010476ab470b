/**
 * @module agent/api/listing-cache
 * The last full listing of a kind (units, states), kept with the etcd revision it was read at.
 * fleet's page tokens are page numbers, so every page of a listing needs the whole sorted list;
 * reading it from etcd for each page made paging through 10,000 units take a minute (100 pages
 * × a full read). A page now costs one tiny read of etcd's current revision: when nothing
 * changed since the cached listing, the cache is exactly what etcd holds and serves the page.
 * Any write anywhere in etcd changes the revision and the next page reads afresh, so a client
 * never sees data older than its own request.
 */
import type { Etcd3 } from "etcd3";

export interface Revisioned<T> {
  readonly items: readonly T[];
  readonly revision: number;
}

/** etcd's current revision, from the header of the smallest read there is. */
export async function currentRevision(client: Etcd3, probeKey: string): Promise<number> {
  const res = await client.kv.range({ key: Buffer.from(probeKey), count_only: true });
  return Number(res.header.revision);
}

export class ListingCache<T> {
  #entry: Revisioned<T> | undefined;
  #reading: Promise<Revisioned<T>> | undefined;

  constructor(
    private readonly read: () => Promise<Revisioned<T>>,
    private readonly revisionNow: () => Promise<number>,
  ) {}

  /** The listing as of this call or later. */
  async get(): Promise<readonly T[]> {
    const now = await this.revisionNow();
    const cached = this.#entry;
    if (cached !== undefined && cached.revision === now) return cached.items;
    // Concurrent requests that missed share one read; one that joined a read begun before a
    // newer write reads again, so nobody is answered with data older than its request.
    if (this.#reading === undefined) {
      this.#reading = this.read().finally(() => {
        this.#reading = undefined;
      });
    }
    let fresh = await this.#reading;
    if (fresh.revision < now) fresh = await this.read();
    if (this.#entry === undefined || fresh.revision >= this.#entry.revision) this.#entry = fresh;
    return fresh.items;
  }
}
