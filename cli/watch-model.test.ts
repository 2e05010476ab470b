import { describe, expect, it } from "vitest";
import { applyEvent, emptyModel, sortedStates, sortedUnits } from "./watch-model.js";
import { WireStateSchema, WireUnitSchema } from "./wire.js";

const unit = (name: string, currentState = "inactive") =>
  WireUnitSchema.parse({ name, currentState, desiredState: "launched", options: [] });
const state = (name: string, machineID: string, active = "active") =>
  WireStateSchema.parse({ name, machineID, hash: "h", systemdActiveState: active });

describe("the --watch model", () => {
  it("applies puts and deletes of units, states and machines, keeping the highest revision", () => {
    const m = emptyModel();
    expect(
      applyEvent(m, {
        type: "unit",
        op: "put",
        revision: 5,
        name: "b.service",
        unit: unit("b.service"),
      }),
    ).toBe(true);
    expect(
      applyEvent(m, {
        type: "unit",
        op: "put",
        revision: 6,
        name: "a.service",
        unit: unit("a.service"),
      }),
    ).toBe(true);
    expect(sortedUnits(m).map((u) => u.name)).toEqual(["a.service", "b.service"]);
    expect(
      applyEvent(m, {
        type: "state",
        op: "put",
        revision: 7,
        name: "a.service",
        machineID: "m2",
        state: state("a.service", "m2"),
      }),
    ).toBe(true);
    expect(
      applyEvent(m, {
        type: "state",
        op: "put",
        revision: 8,
        name: "a.service",
        machineID: "m1",
        state: state("a.service", "m1"),
      }),
    ).toBe(true);
    expect(sortedStates(m).map((s) => s.machineID)).toEqual(["m1", "m2"]);
    expect(
      applyEvent(m, {
        type: "state",
        op: "delete",
        revision: 9,
        name: "a.service",
        machineID: "m2",
      }),
    ).toBe(true);
    expect(sortedStates(m).map((s) => s.machineID)).toEqual(["m1"]);
    expect(
      applyEvent(m, {
        type: "machine",
        op: "put",
        revision: 10,
        id: "m1",
        machine: { id: "m1", metadata: {}, primaryIP: "10.0.0.1" },
      }),
    ).toBe(true);
    expect(m.machines.get("m1")?.primaryIP).toBe("10.0.0.1");
    expect(applyEvent(m, { type: "unit", op: "delete", revision: 11, name: "b.service" })).toBe(
      true,
    );
    expect(sortedUnits(m).map((u) => u.name)).toEqual(["a.service"]);
    expect(m.revision).toBe(11);
  });

  it("a delete of something unknown, ready and errors change nothing to redraw", () => {
    const m = emptyModel();
    expect(applyEvent(m, { type: "unit", op: "delete", revision: 3, name: "x.service" })).toBe(
      false,
    );
    expect(applyEvent(m, { type: "ready", revision: 4 })).toBe(false);
    expect(applyEvent(m, { type: "error", code: 410, message: "compacted" })).toBe(false);
    expect(m.revision).toBe(4);
  });

  it("a newer put replaces the unit (its state moved on)", () => {
    const m = emptyModel();
    applyEvent(m, {
      type: "unit",
      op: "put",
      revision: 1,
      name: "a.service",
      unit: unit("a.service"),
    });
    applyEvent(m, {
      type: "unit",
      op: "put",
      revision: 2,
      name: "a.service",
      unit: unit("a.service", "launched"),
    });
    expect(sortedUnits(m)[0]?.currentState).toBe("launched");
  });
});
