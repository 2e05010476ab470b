import { describe, expect, it } from "vitest";
import { unitRequirements } from "../requirements.js";
import { planSchedule } from "./plan.js";
import type { ClusterSnapshot, SchedulerMachine, SchedulerUnit } from "./snapshot.js";

const unit = (name: string, xfleet: Record<string, string> = {}): SchedulerUnit => ({
  name,
  desiredState: "launched",
  requirements: unitRequirements(
    name,
    Object.entries(xfleet).map(([k, v]) => ({ section: "X-Fleet", name: k, value: v })),
  ),
});
const machine = (id: string, draining = false, metadata = {}): SchedulerMachine => ({
  id,
  metadata,
  ...(draining ? { draining: true } : {}),
});

describe("a draining machine", () => {
  it("loses its non-global units to the least-loaded other machine and keeps its global ones", () => {
    const snapshot: ClusterSnapshot = {
      machines: [machine("a", true), machine("b"), machine("c")],
      units: [unit("x.service"), unit("y.service"), unit("g.service", { Global: "true" })],
      schedule: {
        "x.service": ["a"],
        "y.service": ["b"],
        "g.service": ["a", "b", "c"],
      },
    };
    const plan = planSchedule(snapshot);
    expect(plan.placements).toEqual({
      "x.service": ["c"],
      "y.service": ["b"],
      "g.service": ["a", "b", "c"],
    });
    expect(plan.changes).toEqual([
      {
        type: "unschedule",
        unit: "x.service",
        machine: "a",
        reason: "no longer allowed there: the only machine is draining",
      },
      {
        type: "schedule",
        unit: "x.service",
        machine: "c",
        reason: "least-loaded eligible machine",
      },
    ]);
  });

  it("gets no new unit, even when it is the least loaded", () => {
    const plan = planSchedule({
      machines: [machine("a", true), machine("b")],
      units: [unit("x.service"), unit("y.service"), unit("z.service")],
      schedule: { "x.service": ["b"] },
    });
    expect(plan.placements).toEqual({
      "x.service": ["b"],
      "y.service": ["b"],
      "z.service": ["b"],
    });
  });

  it("takes a MachineOf follower away with the unit it follows", () => {
    const plan = planSchedule({
      machines: [machine("a", true), machine("b")],
      units: [unit("db.service"), unit("app.service", { MachineOf: "db.service" })],
      schedule: { "db.service": ["a"], "app.service": ["a"] },
    });
    expect(plan.placements).toEqual({ "db.service": ["b"], "app.service": ["b"] });
  });

  it("leaves a unit that may run nowhere else unschedulable, saying the machine is draining", () => {
    const plan = planSchedule({
      machines: [machine("a", true, { disk: "ssd" }), machine("b")],
      units: [unit("x.service", { MachineMetadata: "disk=ssd" })],
      schedule: { "x.service": ["a"] },
    });
    expect(plan.placements).toEqual({});
    expect(plan.unschedulable["x.service"]).toBe("1 machine lacks disk=ssd; 1 machine is draining");
    const all = planSchedule({
      machines: [machine("a", true), machine("b", true)],
      units: [unit("x.service")],
      schedule: {},
    });
    expect(all.unschedulable["x.service"]).toBe("all 2 machines are draining");
  });

  it("once undrained, gets units back only through normal placement: nothing moves back", () => {
    const after = planSchedule({
      machines: [machine("a"), machine("b"), machine("c")],
      units: [unit("x.service"), unit("y.service")],
      schedule: { "x.service": ["c"], "y.service": ["b"] },
    });
    expect(after.changes).toEqual([]);
    const withNew = planSchedule({
      machines: [machine("a"), machine("b"), machine("c")],
      units: [unit("x.service"), unit("y.service"), unit("new.service")],
      schedule: { "x.service": ["c"], "y.service": ["b"] },
    });
    expect(withNew.placements["new.service"]).toEqual(["a"]);
  });
});
