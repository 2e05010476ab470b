/**
 * @module cli/parallel
 * fleet's fleetctl made its requests one after the other: three round trips per unit named,
 * so 30 units cost ~100 sequential requests. Reads that do not depend on each other are made
 * a few at a time instead; results keep the order of the arguments, so output does not change.
 */

/** How many requests one fleetctl command keeps in flight. */
export const REQUESTS_IN_FLIGHT = 16;

/**
 * `fn` over `items`, at most `limit` at once, results in the items' order. Every item is
 * attempted; a rejection is returned in its place rather than thrown, so the caller can act as
 * the sequential loop would have: on the items before the first failure, then stop there.
 */
export async function settleInOrder<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = REQUESTS_IN_FLIGHT,
): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: "fulfilled", value: await fn(items[i] as T) };
      } catch (reason) {
        out[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
