/**
 * @module cli/list-views
 * The rows of `list-unit-files` and `list-units`, as pure functions of units, states and
 * machines: the list commands and their --watch redraws print the same table from the same data.
 * Field names and cell texts are fleet's; `reason` is fleet-ts's.
 */
import { shortHash, unitDescription, unitHash } from "../units/unit-file.js";
import { machineFullLegend } from "./machines.js";
import { isGlobal } from "./unit-kind.js";
import type { WireMachine, WireState, WireUnit } from "./wire.js";

export type Machines = ReadonlyMap<string, WireMachine>;

function legend(machines: Machines, id: string, full: boolean): string {
  return machineFullLegend(machines.get(id) ?? { id, primaryIP: "" }, full);
}

type UnitField = (u: WireUnit, full: boolean, machines: Machines) => string;

const target: UnitField = (u, full, machines) => {
  if (isGlobal(u)) return "global";
  if (u.machineID === undefined || u.machineID === "") return "-";
  return legend(machines, u.machineID, full);
};

export const UNIT_FILE_FIELDS: Readonly<Record<string, UnitField>> = {
  desc: (u) => unitDescription(u.options) || "-",
  dstate: (u) => u.desiredState || "-",
  global: (u) => String(isGlobal(u)),
  hash: (u, full) => (full ? unitHash(u.options) : shortHash(unitHash(u.options))),
  reason: (u) => u.reason ?? "-",
  state: (u) => (isGlobal(u) || u.currentState === "" ? "-" : u.currentState),
  target,
  tmachine: target,
  unit: (u) => u.name,
};
export const DEFAULT_UNIT_FILE_FIELDS = "unit,hash,dstate,state,target";

type StateField = (s: WireState, full: boolean, machines: Machines) => string;

export const UNIT_STATE_FIELDS: Readonly<Record<string, StateField>> = {
  active: (s) => s.systemdActiveState,
  hash: (s, full) => (s.hash === "" ? "-" : full ? s.hash : s.hash.slice(0, 7)),
  load: (s) => s.systemdLoadState,
  machine: (s, full, machines) => (s.machineID === "" ? "-" : legend(machines, s.machineID, full)),
  sub: (s) => s.systemdSubState,
  unit: (s) => s.name,
};
export const DEFAULT_UNIT_STATE_FIELDS = "unit,machine,active,sub";

export function unitFileRows(
  units: readonly WireUnit[],
  cols: readonly string[],
  full: boolean,
  machines: Machines,
): string[][] {
  return units.map((u) => cols.map((c) => (UNIT_FILE_FIELDS[c] as UnitField)(u, full, machines)));
}

export function unitStateRows(
  states: readonly WireState[],
  cols: readonly string[],
  full: boolean,
  machines: Machines,
): string[][] {
  return states.map((s) =>
    cols.map((c) => (UNIT_STATE_FIELDS[c] as StateField)(s, full, machines)),
  );
}

/** Whether rendering these columns needs the machine list (fleet read it only then). */
export function needsMachines(cols: readonly string[]): boolean {
  return cols.some((c) => c === "machine" || c === "target" || c === "tmachine");
}
