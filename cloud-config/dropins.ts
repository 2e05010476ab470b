/**
 * @module cloud-config/dropins
 * The `20-cloudinit.conf` drop-ins that carry coreos.fleet and coreos.etcd2 to their services,
 * byte for byte as coreos-cloudinit wrote them (system/env.go): `[Service]`, then one
 * `Environment="KEY=value"` per non-zero option in struct field order; values as Go's `%v`
 * printed them; inner quotes not escaped. No option set → no drop-in at all.
 * fleetd reads these FLEET_* variables (agent/config).
 */
import { goIntString, goValueString } from "./go-format.js";
import {
  type Etcd2Options,
  etcd2Spec,
  type FieldSpec,
  type FleetOptions,
  fleetSpec,
} from "./schema.js";

export const FLEET_DROPIN_PATH = "/run/systemd/system/fleet.service.d/20-cloudinit.conf";
export const ETCD2_DROPIN_PATH = "/run/systemd/system/etcd2.service.d/20-cloudinit.conf";

function environmentLines(
  fields: Readonly<Record<string, FieldSpec>>,
  values: Readonly<Record<string, unknown>>,
): string[] {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(fields)) {
    const v = values[key];
    if (spec.env === undefined || v === "" || v === 0 || v === false || v === undefined) continue;
    const text = spec.kind === "int" ? goIntString(v as number) : goValueString(v);
    lines.push(`Environment="${spec.env}=${text}"`);
  }
  return lines;
}

function serviceContents(lines: readonly string[]): string {
  return lines.length === 0 ? "" : `[Service]\n${lines.map((l) => `${l}\n`).join("")}`;
}

/** "" when no option is set (then nothing is written). */
export function fleetDropIn(fleet: FleetOptions): string {
  return serviceContents(environmentLines(fleetSpec.fields, fleet));
}

export function etcd2DropIn(etcd2: Etcd2Options): string {
  return serviceContents(environmentLines(etcd2Spec.fields, etcd2));
}
