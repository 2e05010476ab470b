/**
 * @module agent/api/unit-target
 * Which machine's fleetd serves a unit's journal or status: the one it is scheduled to, or for
 * a global unit on several machines the one the client names with `machineID`. One read (the
 * unit, its placements and the live machine records, in one transaction).
 */
import { decode, MachineRecordSchema } from "../registry/codecs.js";
import type { Registry } from "../registry/registry.js";
import { ApiError } from "./errors.js";
import { readAtOnce } from "./reads.js";

export interface UnitTarget {
  readonly machineId: string;
  /** This fleetd's own machine: run the command here. */
  readonly local: boolean;
  /** Where that machine's fleetd serves the API (when not local). */
  readonly apiUrl: string | undefined;
}

export async function resolveUnitTarget(
  registry: Registry,
  ownMachineId: string | undefined,
  unit: string,
  wanted: string | null,
): Promise<UnitTarget> {
  const k = registry.keys;
  const read = await readAtOnce(registry.client, [
    { key: k.unit(unit) },
    { prefix: k.placementPrefix(unit) },
    { prefix: k.machinesPrefix },
  ]);
  const [unitKvs = [], placementKvs = [], machineKvs = []] = read.results;
  if (unitKvs.length === 0) throw new ApiError(404, "unit does not exist");
  const machines = placementKvs.flatMap((kv) => k.parse(kv.key, "placement")?.[1] ?? []).sort();
  if (machines.length === 0)
    throw new ApiError(
      409,
      `unit ${unit} is not scheduled to any machine: start or load it first (fleetctl start ${unit})`,
    );
  let machineId: string;
  if (wanted !== null) {
    if (!machines.includes(wanted))
      throw new ApiError(
        400,
        `machineID=${wanted} does not run ${unit}; it is scheduled to: ${machines.join(", ")}`,
      );
    machineId = wanted;
  } else if (machines.length > 1) {
    throw new ApiError(
      409,
      `unit ${unit} runs on ${machines.length} machines: ${machines.join(", ")}; choose one with machineID=<id>`,
    );
  } else {
    machineId = machines[0] as string;
  }
  if (machineId === ownMachineId) return { machineId, local: true, apiUrl: undefined };
  const record = machineKvs.find((kv) => k.parse(kv.key, "machines")?.[0] === machineId);
  if (record === undefined)
    throw new ApiError(
      502,
      `machine ${machineId} runs ${unit} but is not registered (its fleetd is gone)`,
    );
  const d = decode(MachineRecordSchema, k.machine(machineId), record.value);
  if (!d.ok)
    throw new ApiError(
      502,
      `machine ${machineId}'s registry record is unreadable (${d.corrupt.problem})`,
    );
  const apiUrl = d.value.apiUrl === "" ? undefined : d.value.apiUrl;
  if (apiUrl === undefined)
    throw new ApiError(
      502,
      `machine ${machineId} runs ${unit} but advertises no API URL: give its fleetd a TCP api_listen and api_token_file`,
    );
  return { machineId, local: false, apiUrl };
}
