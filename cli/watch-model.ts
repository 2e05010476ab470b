/**
 * @module cli/watch-model
 * The cluster as an event stream describes it (units, states, machines), updated one event at
 * a time; pure, so --watch's bookkeeping is tested with plain objects.
 */
import type { ClusterEvent, WireMachine, WireState, WireUnit } from "./wire.js";

export interface ClusterModel {
  readonly units: Map<string, WireUnit>;
  /** Keyed `<unit>\0<machine>`. */
  readonly states: Map<string, WireState>;
  readonly machines: Map<string, WireMachine>;
  revision: number;
}

export function emptyModel(): ClusterModel {
  return { units: new Map(), states: new Map(), machines: new Map(), revision: 0 };
}

/** Applies one event; true if the model changed (a redraw is due). */
export function applyEvent(model: ClusterModel, e: ClusterEvent): boolean {
  switch (e.type) {
    case "unit":
      model.revision = Math.max(model.revision, e.revision);
      if (e.op === "delete" || e.unit === undefined) return model.units.delete(e.name);
      model.units.set(e.name, e.unit);
      return true;
    case "state": {
      model.revision = Math.max(model.revision, e.revision);
      const key = `${e.name}\u0000${e.machineID}`;
      if (e.op === "delete" || e.state === undefined) return model.states.delete(key);
      model.states.set(key, e.state);
      return true;
    }
    case "machine":
      model.revision = Math.max(model.revision, e.revision);
      if (e.op === "delete" || e.machine === undefined) return model.machines.delete(e.id);
      model.machines.set(e.id, e.machine);
      return true;
    case "ready":
      model.revision = Math.max(model.revision, e.revision);
      return false;
    case "error":
      return false;
  }
}

const byKey = <T>(m: Map<string, T>): T[] =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);

/** Units sorted by name, as GET /fleet/v1/units lists them. */
export function sortedUnits(model: ClusterModel): WireUnit[] {
  return byKey(model.units);
}

/** States sorted by unit then machine, as GET /fleet/v1/state lists them. */
export function sortedStates(model: ClusterModel): WireState[] {
  return byKey(model.states);
}
