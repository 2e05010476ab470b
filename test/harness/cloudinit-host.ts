/**
 * @module test/harness/cloudinit-host
 * The files that make a test host boot from a cloud-config, as a CoreOS machine did: the
 * document at /var/lib/fleet-cloudinit/user-data, fleet-cloudinit.service (the shipped unit,
 * run from this checkout) enabled in multi-user.target, and a fleet.service that runs this
 * checkout's fleetd — not enabled: the document starts it (`coreos.units: [{name: fleet.service,
 * command: start}]`), and its etcd endpoints, metadata and public IP arrive through the
 * 20-cloudinit.conf drop-in that fleet-cloudinit writes from `coreos.fleet`.
 *
 * The host must bind the checkout (`bootHosts({ binds: [repo], files: ... })`) and the checkout
 * must be built (`npx tsc -p tsconfig.build.json`). Used by test/cloudinit-boot.root.test.ts and
 * by `make demo`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { HostFiles } from "./host-files.js";

export const USER_DATA_PATH = "/var/lib/fleet-cloudinit/user-data";

/** fleetd as the fleetctl tests run it (no socket activation: it opens /run/fleet.sock itself). */
export function fleetServiceText(repo: string): string {
  return `[Unit]\nDescription=fleet-ts daemon\n\n[Service]\nExecStart=/usr/bin/node --max-semi-space-size=1 --v8-pool-size=0 ${repo}/dist/agent/main.js\nKillMode=process\nRestart=always\nRestartSec=1s\n`;
}

/** The shipped cloud-config/systemd-units/fleet-cloudinit.service, run from `repo`. */
export function cloudInitServiceText(repo: string): string {
  const shipped = readFileSync(
    path.join(repo, "cloud-config/systemd-units/fleet-cloudinit.service"),
    "utf8",
  );
  return shipped.replace(
    /^ExecStart=.*$/m,
    `ExecStart=/usr/bin/node ${repo}/dist/cloud-config/main.js --from-file ${USER_DATA_PATH}`,
  );
}

export function cloudInitHostFiles(repo: string, userData: string): HostFiles {
  return {
    [USER_DATA_PATH]: { content: userData, mode: 0o600 },
    "/etc/systemd/system/fleet-cloudinit.service": cloudInitServiceText(repo),
    "/etc/systemd/system/multi-user.target.wants/fleet-cloudinit.service": {
      symlink: "/etc/systemd/system/fleet-cloudinit.service",
    },
    "/etc/systemd/system/fleet.service": fleetServiceText(repo),
  };
}
