/**
 * @module units/scheduler/reasons
 * One sentence saying why a unit is placed nowhere, summed up over every machine, e.g.
 * `no machine has region=eu-west` or
 * `2 machines lack disk=ssd; 1 machine excluded by Conflicts=web@* (runs web@1.service)`.
 */
import type { Rejection } from "./feasibility.js";

const plural = (n: number) => (n === 1 ? "1 machine" : `${n} machines`);
/** "1 machine lacks", "2 machines lack". */
const verb = (n: number, one: string, many: string) => `${plural(n)} ${n === 1 ? one : many}`;

function phrase(r: Rejection, count: number, all: boolean): string {
  const units =
    r.units && r.units.length > 0
      ? ` (runs ${r.units.slice(0, 3).join(", ")}${r.units.length > 3 ? ", ..." : ""})`
      : "";
  switch (r.code) {
    case "machine-id":
      return `no machine matches ${r.key}`;
    case "metadata":
      return all ? `no machine has ${r.key}` : `${verb(count, "lacks", "lack")} ${r.key}`;
    case "machine-of":
      return all
        ? `no machine runs ${r.key.slice("MachineOf=".length)}`
        : `${plural(count)} do not run ${r.key.slice("MachineOf=".length)}`;
    case "conflicts":
      return `${plural(count)} excluded by ${r.key}${units}`;
    case "conflicted-by":
      return `${plural(count)} excluded by ${r.key}`;
    case "replaced-by":
      return `${plural(count)} excluded by the ${r.key}`;
    case "draining":
      if (all)
        return count === 1 ? "the only machine is draining" : `all ${count} machines are draining`;
      return `${verb(count, "is", "are")} draining`;
  }
}

/** Sums up the rejections of every machine (one each) into a sentence. */
export function summarize(rejections: readonly Rejection[]): string {
  if (rejections.length === 0) return "no machines in the cluster";
  const groups = new Map<string, { first: Rejection; count: number; units: Set<string> }>();
  for (const r of rejections) {
    const id = `${r.code}\u0000${r.key}`;
    const g = groups.get(id);
    if (g === undefined) groups.set(id, { first: r, count: 1, units: new Set(r.units ?? []) });
    else {
      g.count++;
      for (const u of r.units ?? []) g.units.add(u);
    }
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || (a.first.key < b.first.key ? -1 : 1))
    .map((g) =>
      phrase({ ...g.first, units: [...g.units].sort() }, g.count, g.count === rejections.length),
    )
    .join("; ");
}
