/**
 * @module cli/snapshot
 * The whole cluster in one read: the event stream's snapshot (GET /fleet/v1/events with
 * snapshot=true, closed at `ready`). fleet API v1's listings come in pages of 100, and the API
 * reads the cluster again for every page, so 10,000 states took 100 reads; the snapshot is one.
 * It comes from the API's event feed, which follows etcd's watch: a write made a few
 * milliseconds earlier may not be in it yet.
 * A server without the event stream (fleet itself answers 404) does not upgrade: then the
 * caller pages as fleet's fleetctl did.
 */
import { type ApiClient, parseMessage } from "./api-client.js";
import { ApiResponseError, ApiUnreachableError, CliError } from "./errors.js";
import { applyEvent, type ClusterModel, emptyModel, sortedStates } from "./watch-model.js";
import {
  type ClusterEvent,
  EventSchema,
  type WireMachine,
  type WireState,
  type WireUnit,
} from "./wire.js";

export class SnapshotUnavailable extends CliError {
  override name = "SnapshotUnavailable";
}

/** The model at one revision, or SnapshotUnavailable when the API has no event stream. */
export async function readSnapshot(
  api: ApiClient,
  kinds: readonly ("unit" | "state" | "machine")[],
): Promise<ClusterModel> {
  let socket: Awaited<ReturnType<ApiClient["openSocket"]>>;
  try {
    socket = await api.openSocket(`/fleet/v1/events?snapshot=true&kinds=${kinds.join(",")}`);
  } catch (err) {
    // Anything but silence (fleet's 404, a proxy that does not upgrade, a 401 the paged
    // listing will report in fleet's words) means: list page by page instead.
    if (err instanceof CliError && !(err instanceof ApiUnreachableError))
      throw new SnapshotUnavailable(err.message);
    throw err;
  }
  const model = emptyModel();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      socket.close();
      if (err === undefined) resolve(model);
      else reject(err);
    };
    socket.onMessage((text) => {
      if (settled) return;
      let e: ClusterEvent;
      try {
        e = parseMessage(EventSchema, text, "the API's event stream");
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        return finish(err);
      }
      if (e.type === "error") return finish(new ApiResponseError(e.code, e.message));
      applyEvent(model, e);
      if (e.type === "ready") finish();
    });
    socket.onClose((why) => finish(new CliError(`${why} before its snapshot was complete`)));
  });
}

/** The machine list for a table's legends (fleet ignored an error there too). */
async function machineMap(api: ApiClient): Promise<Map<string, WireMachine>> {
  return new Map((await api.machines().catch(() => [])).map((m) => [m.id, m]));
}

async function snapshotOrUndefined(
  api: ApiClient,
  kinds: readonly ("unit" | "state" | "machine")[],
): Promise<ClusterModel | undefined> {
  try {
    return await readSnapshot(api, kinds);
  } catch (err) {
    if (err instanceof SnapshotUnavailable) return undefined;
    throw err;
  }
}

/**
 * Every unit (sorted by name) and, when `withMachines`, the machines. Paged, not from the
 * snapshot: the event feed does not yet send a unit again when only its machine's reported
 * state (and so its currentState) changes, so a snapshot's units can show an old currentState.
 */
export async function listUnitsAndMachines(
  api: ApiClient,
  withMachines: boolean,
): Promise<{ units: WireUnit[]; machines: ReadonlyMap<string, WireMachine> }> {
  const units = await api.units();
  return { units, machines: withMachines && units.length > 0 ? await machineMap(api) : new Map() };
}

/** Every unit state (by unit, then machine) and, when `withMachines`, the machines. */
export async function listStatesAndMachines(
  api: ApiClient,
  withMachines: boolean,
): Promise<{ states: WireState[]; machines: ReadonlyMap<string, WireMachine> }> {
  const snap = await snapshotOrUndefined(api, withMachines ? ["state", "machine"] : ["state"]);
  if (snap !== undefined) return { states: sortedStates(snap), machines: snap.machines };
  const states = await api.states();
  return {
    states,
    machines: withMachines && states.length > 0 ? await machineMap(api) : new Map(),
  };
}
