/**
 * @module agent/api/wire
 * fleet API v1's JSON, field for field (schema/v1.json): what fleetctl and other clients parse.
 * Key order and omitted fields follow fleet's Go encoder (empty lists and absent machine IDs
 * are left out; an empty listing is `{}`).
 */
import type { UnitRecord, UnitStateRecord } from "../registry/codecs.js";

export interface WireUnit {
  readonly currentState: string;
  readonly desiredState: string;
  readonly machineID?: string;
  readonly name: string;
  readonly options: readonly { name: string; section: string; value: string }[];
  /** fleet-ts: why the scheduler placed it nowhere (only when it did not). */
  readonly reason?: string;
}

export interface WireMachine {
  readonly id: string;
  readonly metadata: Record<string, string>;
  readonly primaryIP: string;
  /** fleet-ts: present (and true) only while the machine is drained. */
  readonly draining?: true;
}

export interface WireUnitState {
  readonly hash: string;
  readonly machineID: string;
  readonly name: string;
  readonly systemdActiveState: string;
  readonly systemdLoadState: string;
  readonly systemdSubState: string;
}

/**
 * A unit as the API shows it. `currentState` is what the agent has reached: the desired state
 * of the schedule entry it acted on (its state carries the unit's hash), else `inactive`.
 * fleet showed global units with no machine and `inactive`; so do we, for its clients.
 */
export function wireUnit(
  unit: UnitRecord,
  placement: { machineId: string; entryState: "loaded" | "launched" } | undefined,
  reportedHash: string | undefined,
  global: boolean,
  reason?: string,
): WireUnit {
  const reached = placement !== undefined && reportedHash === unit.hash && !global;
  return {
    currentState: reached ? placement.entryState : "inactive",
    desiredState: unit.desiredState,
    ...(placement !== undefined && !global ? { machineID: placement.machineId } : {}),
    name: unit.name,
    options: unit.options.map((o) => ({ name: o.name, section: o.section, value: o.value })),
    ...(reason === undefined ? {} : { reason }),
  };
}

/** A machine as GET /machines shows it: metadata keys sorted, as fleet's Go map encoding. */
export function wireMachine(
  m: {
    readonly id: string;
    readonly publicIP: string;
    readonly metadata: Readonly<Record<string, string>>;
  },
  draining: boolean,
): WireMachine {
  return {
    id: m.id,
    metadata: Object.fromEntries(
      Object.keys(m.metadata)
        .sort()
        .map((k) => [k, m.metadata[k] as string]),
    ),
    primaryIP: m.publicIP,
    ...(draining ? { draining: true as const } : {}),
  };
}

export function wireUnitState(unit: string, machineId: string, s: UnitStateRecord): WireUnitState {
  return {
    hash: s.hash,
    machineID: machineId,
    name: unit,
    systemdActiveState: s.activeState,
    systemdLoadState: s.loadState,
    systemdSubState: s.subState,
  };
}

/** `{"units":[...]}` with fleet's omissions: `{}` when empty, `nextPageToken` when more. */
export function listing<T>(field: string, items: readonly T[], next: string | undefined): string {
  return JSON.stringify({
    ...(items.length > 0 ? { [field]: items } : {}),
    ...(next === undefined ? {} : { nextPageToken: next }),
  });
}
