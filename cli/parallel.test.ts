import { describe, expect, it } from "vitest";
import { settleInOrder } from "./parallel.js";

describe("settleInOrder", () => {
  it("keeps the items' order whatever order the calls finish in", async () => {
    const delays = [30, 5, 20, 0, 10];
    const r = await settleInOrder(
      delays,
      (d) => new Promise<number>((ok) => setTimeout(() => ok(d), d)),
    );
    expect(r.map((x) => (x.status === "fulfilled" ? x.value : -1))).toEqual(delays);
  });

  it("never has more than `limit` calls in flight", async () => {
    let now = 0;
    let most = 0;
    await settleInOrder(
      Array.from({ length: 40 }, (_, i) => i),
      async () => {
        most = Math.max(most, ++now);
        await new Promise((ok) => setTimeout(ok, 1));
        now--;
      },
      4,
    );
    expect(most).toBe(4);
  });

  it("returns a failure in its place and still attempts the rest", async () => {
    const seen: number[] = [];
    const r = await settleInOrder([1, 2, 3], async (n) => {
      seen.push(n);
      if (n === 2) throw new Error("two");
      return n;
    });
    expect(r[1]).toMatchObject({ status: "rejected", reason: new Error("two") });
    expect(r[2]).toEqual({ status: "fulfilled", value: 3 });
    expect(seen.sort()).toEqual([1, 2, 3]);
  });

  it("an empty list is an empty result", async () => {
    expect(await settleInOrder([], async () => 1)).toEqual([]);
  });
});
