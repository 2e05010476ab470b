import { describe, expect, it } from "vitest";
import { ListingCache } from "./listing-cache.js";

/** A pretend store: a revision that writes move, and a read that reports it. */
function store() {
  const s = {
    revision: 10,
    reads: 0,
    gate: undefined as Promise<void> | undefined,
    read: async () => {
      s.reads++;
      const at = s.revision;
      await s.gate;
      return { items: [`at ${at}`], revision: at };
    },
    now: async () => s.revision,
  };
  return s;
}

describe("ListingCache", () => {
  it("reads once while etcd's revision stays, and again when it moves", async () => {
    const s = store();
    const cache = new ListingCache(s.read, s.now);
    expect(await cache.get()).toEqual(["at 10"]);
    expect(await cache.get()).toEqual(["at 10"]);
    expect(s.reads).toBe(1);
    s.revision = 11;
    expect(await cache.get()).toEqual(["at 11"]);
    expect(s.reads).toBe(2);
  });

  it("shares one read between concurrent misses", async () => {
    const s = store();
    let open = () => {};
    s.gate = new Promise((r) => {
      open = r;
    });
    const cache = new ListingCache(s.read, s.now);
    const both = Promise.all([cache.get(), cache.get()]);
    await new Promise((r) => setTimeout(r, 5));
    open();
    expect(await both).toEqual([["at 10"], ["at 10"]]);
    expect(s.reads).toBe(1);
  });

  it("never answers a request with a listing older than the request", async () => {
    const s = store();
    let open = () => {};
    s.gate = new Promise((r) => {
      open = r;
    });
    const cache = new ListingCache(s.read, s.now);
    const first = cache.get(); // its read starts at revision 10
    await new Promise((r) => setTimeout(r, 5));
    s.revision = 12; // a write lands before the second request
    const second = cache.get();
    await new Promise((r) => setTimeout(r, 5));
    open();
    expect(await first).toEqual(["at 10"]);
    expect(await second).toEqual(["at 12"]);
  });
});
