/**
 * @module agent/registry/keys
 * Where everything lives in etcd, in one place. Every key is `<prefix><kind>/...`; names
 * are unit names and machine IDs, which never contain "/" (unit names are validated, machine
 * IDs are 32 hex characters), so a key splits unambiguously.
 */

export type KeyKind =
  | "units"
  | "schedule"
  | "placement"
  | "machines"
  | "metadata"
  | "states"
  | "unschedulable"
  | "drain"
  | "election";

export class KeyLayout {
  readonly prefix: string;
  constructor(prefix = "/fleet/") {
    this.prefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
  }

  /** The unit record: options, hash, desired state. Written by the API. */
  unit(name: string): string {
    return `${this.prefix}units/${name}`;
  }
  get unitsPrefix(): string {
    return `${this.prefix}units/`;
  }

  /** What one machine must run: the only prefix an agent watches. Written by the leader. */
  schedule(machineId: string, unit: string): string {
    return `${this.prefix}schedule/${machineId}/${unit}`;
  }
  schedulePrefix(machineId?: string): string {
    return machineId === undefined
      ? `${this.prefix}schedule/`
      : `${this.prefix}schedule/${machineId}/`;
  }

  /** Reverse index unit → machines (several for a global unit), written with `schedule`. */
  placement(unit: string, machineId: string): string {
    return `${this.prefix}placement/${unit}/${machineId}`;
  }
  placementPrefix(unit?: string): string {
    return unit === undefined ? `${this.prefix}placement/` : `${this.prefix}placement/${unit}/`;
  }

  /** A live machine, attached to its agent's lease. */
  machine(id: string): string {
    return `${this.prefix}machines/${id}`;
  }
  get machinesPrefix(): string {
    return `${this.prefix}machines/`;
  }

  /** Metadata set through the API: no lease, survives the machine's rejoin. */
  metadata(id: string): string {
    return `${this.prefix}metadata/${id}`;
  }
  get metadataPrefix(): string {
    return `${this.prefix}metadata/`;
  }

  /** What systemd says about a unit on a machine, attached to that agent's lease. */
  state(unit: string, machineId: string): string {
    return `${this.prefix}states/${unit}/${machineId}`;
  }
  statesPrefix(unit?: string): string {
    return unit === undefined ? `${this.prefix}states/` : `${this.prefix}states/${unit}/`;
  }

  /** Why the scheduler could not place a unit. Written by the leader. */
  unschedulable(unit: string): string {
    return `${this.prefix}unschedulable/${unit}`;
  }
  get unschedulablePrefix(): string {
    return `${this.prefix}unschedulable/`;
  }

  /** A machine being drained (the API's drain): no lease, survives the machine's rejoin. */
  drain(id: string): string {
    return `${this.prefix}drain/${id}`;
  }
  get drainPrefix(): string {
    return `${this.prefix}drain/`;
  }

  /** The engine's election (etcd3 election API keys live under it). */
  get election(): string {
    return `${this.prefix}election/engine`;
  }

  /** The path segments after `<prefix><kind>/`, or undefined for a key of another kind. */
  parse(key: string, kind: KeyKind): string[] | undefined {
    const head = `${this.prefix}${kind}/`;
    if (!key.startsWith(head)) return undefined;
    const parts = key.slice(head.length).split("/");
    return parts.some((p) => p === "") ? undefined : parts;
  }
}

/** etcd's range end for "every key with this prefix": the prefix with its last byte + 1. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
