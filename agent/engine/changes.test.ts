import { describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import type { MachineRecord, UnitRecord } from "../registry/codecs.js";
import { KeyLayout } from "../registry/keys.js";
import { changesFor, decide, RequirementsCache } from "./changes.js";
import { ClusterView } from "./cluster-view.js";

const H1 = "1".repeat(40);
const H2 = "2".repeat(40);
const machine = (id: string, metadata: Record<string, string> = {}): MachineRecord => ({
  id,
  publicIP: "10.0.0.1",
  metadata,
  version: "t",
  startedAt: 0,
});
const unit = (
  name: string,
  desiredState: UnitRecord["desiredState"],
  xfleet: string[] = [],
  hash = H1,
): UnitRecord => ({
  name,
  hash,
  desiredState,
  options: xfleet.map((l) => ({
    section: "X-Fleet",
    name: l.slice(0, l.indexOf("=")),
    value: l.slice(l.indexOf("=") + 1),
  })),
});

function view(): ClusterView {
  const v = new ClusterView(new KeyLayout("/f/"), silentLogger);
  v.machines.set("a".repeat(32), machine("a".repeat(32)));
  v.machines.set("b".repeat(32), machine("b".repeat(32), { region: "eu" }));
  return v;
}
const A = "a".repeat(32);
const B = "b".repeat(32);

describe("engine decisions", () => {
  it("places units, with their hash and desired state in the entry, then writes nothing more", () => {
    const v = view();
    v.units.set("x.service", unit("x.service", "launched"));
    v.units.set("y.service", unit("y.service", "loaded", ["MachineMetadata=region=eu"]));
    v.units.set("z.service", unit("z.service", "inactive"));
    const cache = new RequirementsCache();
    const { changes } = decide(v, cache);
    expect(changes).toEqual([
      {
        type: "schedule",
        unit: "x.service",
        machineId: A,
        entry: { hash: H1, desiredState: "launched" },
      },
      {
        type: "schedule",
        unit: "y.service",
        machineId: B,
        entry: { hash: H1, desiredState: "loaded" },
      },
    ]);
    v.applyOwn(changes);
    expect(decide(v, cache).changes).toEqual([]);
  });

  it("rewrites an entry in place when the unit's desired state or hash changes", () => {
    const v = view();
    const cache = new RequirementsCache();
    v.units.set("x.service", unit("x.service", "launched"));
    v.applyOwn(decide(v, cache).changes);
    v.units.set("x.service", unit("x.service", "loaded", [], H2));
    expect(decide(v, cache).changes).toEqual([
      {
        type: "schedule",
        unit: "x.service",
        machineId: A,
        entry: { hash: H2, desiredState: "loaded" },
      },
    ]);
  });

  it("unschedules inactive and destroyed units, and stores and clears reasons", () => {
    const v = view();
    const cache = new RequirementsCache();
    v.units.set("x.service", unit("x.service", "launched"));
    v.units.set("mars.service", unit("mars.service", "launched", ["MachineMetadata=region=mars"]));
    const first = decide(v, cache).changes;
    expect(first).toContainEqual({
      type: "reason",
      unit: "mars.service",
      reason: "no machine has region=mars",
    });
    v.applyOwn(first);
    v.units.delete("x.service");
    v.units.set("mars.service", unit("mars.service", "inactive", ["MachineMetadata=region=mars"]));
    expect(decide(v, cache).changes).toEqual([
      { type: "unschedule", unit: "x.service", machineId: A },
      { type: "reason", unit: "mars.service", reason: undefined },
    ]);
  });

  it("expands global units to every machine and follows a machine's loss", () => {
    const v = view();
    const cache = new RequirementsCache();
    v.units.set("g.service", unit("g.service", "launched", ["Global=true"]));
    v.units.set("x.service", unit("x.service", "launched"));
    v.applyOwn(decide(v, cache).changes);
    expect([...(v.schedule.get("g.service")?.keys() ?? [])].sort()).toEqual([A, B]);
    v.machines.delete(A);
    const after = decide(v, cache).changes;
    expect(after).toEqual([
      { type: "unschedule", unit: "g.service", machineId: A },
      { type: "unschedule", unit: "x.service", machineId: A },
      {
        type: "schedule",
        unit: "x.service",
        machineId: B,
        entry: { hash: H1, desiredState: "launched" },
      },
    ]);
  });

  it("changesFor writes nothing for a plan that matches the view", () => {
    const v = view();
    expect(changesFor(v, { placements: {}, changes: [], unschedulable: {} })).toEqual([]);
  });
});
