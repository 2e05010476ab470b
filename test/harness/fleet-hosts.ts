/**
 * @module test/harness/fleet-hosts
 * What the cluster tests and benchmarks share: real systemd hosts each running fleetd as a systemd service
 * (from this checkout, through tsx), configured by /etc/fleet/fleet.conf, and small readers of
 * what those hosts and etcd say. fleetd runs inside the hosts (not in the test process) so that
 * killing a host or cutting its network takes its fleetd with it, as on a real machine.
 */
import { fileURLToPath } from "node:url";
import type { UnitRecord } from "../../agent/registry/codecs.js";
import type { Registry } from "../../agent/registry/registry.js";
import { parseUnitFile, unitHash } from "../../units/unit-file.js";
import { bootHosts, type Cluster, type HostFiles } from "./hosts.js";

export const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

export interface FleetHostsOptions {
  readonly count: number;
  /** fleet.conf of host i (etcd_servers, agent_ttl, metadata, ...). */
  readonly conf: (index: number) => string;
  readonly netns?: boolean;
  /** More files for host i (an API token, ...). */
  readonly files?: (index: number) => HostFiles;
}

/** The unit fleet ships (agent/systemd-units/fleet.service), pointed at this checkout. */
const FLEET_SERVICE = `[Unit]
Description=fleet-ts daemon (test hosts)
[Service]
ExecStart=/usr/bin/node --import file://${REPO}/node_modules/tsx/dist/esm/index.mjs ${REPO}/agent/main.ts
KillMode=process
Restart=always
RestartSec=1
[Install]
WantedBy=multi-user.target
`;

export async function bootFleetHosts(opts: FleetHostsOptions): Promise<Cluster> {
  return bootHosts({
    count: opts.count,
    netns: opts.netns ?? false,
    binds: [REPO], // the checkout may be under /tmp, which each host has its own of
    files: (i) => ({
      ...opts.files?.(i),
      "/etc/fleet/fleet.conf": opts.conf(i),
      "/etc/systemd/system/fleet.service": FLEET_SERVICE,
      "/etc/systemd/system/multi-user.target.wants/fleet.service": {
        symlink: "/etc/systemd/system/fleet.service",
      },
    }),
  });
}

export function unit(name: string, text: string): UnitRecord {
  const options = [...parseUnitFile(text).options];
  return { name, options, hash: unitHash(options), desiredState: "launched" };
}

/** `systemctl show -p <prop> --value <unit>` inside host i. */
export async function show(cluster: Cluster, i: number, unitName: string, prop: string) {
  return (await cluster.systemctl(i, "show", "-p", prop, "--value", unitName)).stdout.trim();
}

/** A CLOCK_MONOTONIC timestamp (µs) systemd keeps for a unit; 0 when it never happened. */
export async function monotonicUs(
  cluster: Cluster,
  i: number,
  unitName: string,
  prop: "ActiveEnterTimestampMonotonic" | "InactiveEnterTimestampMonotonic",
): Promise<number> {
  return Number(await show(cluster, i, unitName, prop));
}

/** systemd's journal message IDs (sd-messages.h) for a unit's start and stop jobs completing. */
export const UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf";
export const UNIT_STOPPED = "9d1aaa27d60140bd96365438aad20286";

/**
 * CLOCK_MONOTONIC (µs) of the last journal entry of host i's systemd with this message ID for
 * the unit, 0 if none. systemd logs UNIT_STOPPED when the stop job is done, i.e. when the
 * unit's processes are gone. The journal keeps it after systemd forgets an inactive unit
 * (whose *Timestamp properties then read 0).
 */
export async function journalMonotonicUs(
  cluster: Cluster,
  i: number,
  unitName: string,
  messageId: string,
): Promise<number> {
  const r = await cluster.exec(i, ["journalctl", "--no-pager", "-o", "json", `UNIT=${unitName}`], {
    check: true,
  });
  let last = 0;
  for (const line of r.stdout.split("\n")) {
    if (line.trim() === "") continue;
    const entry = JSON.parse(line) as { MESSAGE_ID?: string; __MONOTONIC_TIMESTAMP?: string };
    if (entry.MESSAGE_ID === messageId) last = Math.max(last, Number(entry.__MONOTONIC_TIMESTAMP));
  }
  return last;
}

/** This process's CLOCK_MONOTONIC in µs: the clock systemd's *TimestampMonotonic use. */
export const nowMonotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Which hosts have `unitName` active, by asking each running host's systemd. */
export async function activeOn(cluster: Cluster, unitName: string): Promise<number[]> {
  const out: number[] = [];
  for (const h of cluster.hosts) {
    if (!h.running) continue;
    if ((await show(cluster, h.index, unitName, "ActiveState")) === "active") out.push(h.index);
  }
  return out;
}

/** Host indexes the leader placed `unitName` on (`placement/<unit>/<machine>`). */
export async function placedOn(
  registry: Registry,
  cluster: Cluster,
  unitName: string,
): Promise<number[]> {
  const placed = await registry.kv.range(registry.keys.placementPrefix(unitName));
  return placed.kvs
    .map((kv) => cluster.hosts.findIndex((h) => kv.key.endsWith(`/${h.machineId}`)))
    .sort();
}

/** Host indexes registered in etcd (`machines/`). */
export async function registered(registry: Registry, cluster: Cluster): Promise<number[]> {
  const { machines } = await registry.machines.list();
  return machines.map((m) => cluster.hosts.findIndex((h) => h.machineId === m.id)).sort();
}

/** The host whose engine leads: the oldest key of the election (etcd's election recipe). */
export async function leaderHost(registry: Registry, cluster: Cluster): Promise<number> {
  const { kvs } = await registry.kv.range(`${registry.keys.election}/`);
  const oldest = [...kvs].sort((a, b) => a.createRevision - b.createRevision)[0];
  if (oldest === undefined) return -1;
  const id = oldest.value.toString("utf8");
  return cluster.hosts.findIndex((h) => h.machineId === id);
}

/** fleetd's MainPID inside host i (as that host's PID namespace numbers it). */
export const fleetdPid = (cluster: Cluster, i: number) =>
  show(cluster, i, "fleet.service", "MainPID");

/** SIGKILL of fleetd on host i, through the host's systemd (KillMode=process: units stay). */
export async function killFleetd(cluster: Cluster, i: number): Promise<void> {
  await cluster.exec(
    i,
    ["systemctl", "kill", "--kill-whom=main", "--signal=SIGKILL", "fleet.service"],
    { check: true },
  );
}
