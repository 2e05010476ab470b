/**
 * @module cli/machines
 * How fleetctl names a machine: `1c82c571...` or the full ID, with `/<ip>` when it has one,
 * and the per-invocation cache of the machine list (fleet's cachedMachineState).
 */
import { shortMachineId } from "../units/machine-metadata.js";
import type { ApiClient } from "./api-client.js";
import type { WireMachine } from "./wire.js";

export function machineIdLegend(id: string, full: boolean): string {
  return full ? id : `${shortMachineId(id)}...`;
}

export function machineFullLegend(m: { id: string; primaryIP: string }, full: boolean): string {
  const legend = machineIdLegend(m.id, full);
  return m.primaryIP.length > 0 ? `${legend}/${m.primaryIP}` : legend;
}

/** Metadata as fleet printed it: `k=v` pairs sorted by key, comma-separated. */
export function formatMetadata(metadata: Readonly<Record<string, string>>): string {
  return Object.keys(metadata)
    .sort()
    .map((k) => `${k}=${metadata[k]}`)
    .join(",");
}

/** The machine list, read at most once per command (a failure reads as "no machines"). */
export class MachineCache {
  #byId: Promise<Map<string, WireMachine>> | undefined;
  constructor(private readonly api: ApiClient) {}

  async get(id: string): Promise<WireMachine | undefined> {
    this.#byId ??= this.api.machines().then(
      (ms) => new Map(ms.map((m) => [m.id, m])),
      // fleet ignored errors here too: the legend then shows the bare machine ID.
      () => new Map(),
    );
    return (await this.#byId).get(id);
  }

  /** The legend fleet printed for a unit's or state's machine. */
  async legend(id: string, full: boolean): Promise<string> {
    return machineFullLegend((await this.get(id)) ?? { id, primaryIP: "" }, full);
  }
}
