/**
 * @module test/harness/netns
 * Optional private network for partition tests: one namespace per run holding a bridge
 * (`br0`), and per host a namespace whose only link, `eth0`, is a veth into that bridge. The
 * addresses come from TEST_SUBNET, a /24 used only inside these namespaces; no namespace has a
 * default route, so nothing can leave them. Every interface is created directly inside its
 * namespace, so no name ever appears in the machine's own network namespace.
 * Cutting a host off = taking its bridge port down (the host sees its cable pulled).
 */
import { existsSync } from "node:fs";
import { runChecked, runCommand } from "./command.js";

/** First three octets of the private /24 the hosts are numbered from (host i = .(10+i)). */
export const TEST_SUBNET = "10.254.77";
export const MAX_NETNS_HOSTS = 240;

export const bridgeNetnsName = (runId: string) => `fts-${runId}-br`;
export const hostNetnsName = (runId: string, index: number) => `fts-${runId}-h${index}`;
export const hostIp = (index: number) => `${TEST_SUBNET}.${10 + index}`;
/** The host's port on the bridge, inside the bridge namespace. */
const bridgePort = (index: number) => `v${index}`;

export const netnsExists = (name: string) => existsSync(`/run/netns/${name}`);

async function ipBatch(netns: string, lines: readonly string[], context: string): Promise<void> {
  await runChecked(["ip", "-n", netns, "-batch", "-"], { input: `${lines.join("\n")}\n` }, context);
}

export async function createBridgeNetns(name: string): Promise<void> {
  await runChecked(["ip", "netns", "add", name], {}, `creating the test bridge namespace`);
  await ipBatch(
    name,
    ["link set lo up", "link add br0 type bridge", "link set br0 up"],
    `setting up bridge br0 in namespace ${name}`,
  );
}

export async function createHostNetns(
  bridgeNetns: string,
  name: string,
  index: number,
): Promise<string> {
  if (index >= MAX_NETNS_HOSTS) {
    throw new RangeError(
      `host ${index}: the test subnet ${TEST_SUBNET}.0/24 numbers at most ${MAX_NETNS_HOSTS} hosts`,
    );
  }
  const ip = hostIp(index);
  await runChecked(
    ["ip", "netns", "add", name],
    {},
    `creating network namespace for host ${index}`,
  );
  const port = bridgePort(index);
  await ipBatch(
    bridgeNetns,
    [
      `link add ${port} type veth peer name eth0 netns ${name}`,
      `link set ${port} master br0`,
      `link set ${port} up`,
    ],
    `wiring host ${index} to the test bridge`,
  );
  await ipBatch(
    name,
    ["link set lo up", `addr add ${ip}/24 dev eth0`, "link set eth0 up"],
    `addressing host ${index} (${ip})`,
  );
  return ip;
}

/** Takes host `index`'s bridge port down (cut) or up (heal). */
export async function setHostLink(bridgeNetns: string, index: number, up: boolean): Promise<void> {
  await runChecked(
    ["ip", "-n", bridgeNetns, "link", "set", bridgePort(index), up ? "up" : "down"],
    {},
    `${up ? "healing" : "cutting"} the network of host ${index}`,
  );
}

/** Deletes a named network namespace; a missing one is already what we want. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  const r = await runCommand(["ip", "netns", "del", name]);
  if (r.code !== 0 && netnsExists(name)) {
    throw new Error(
      `cannot delete network namespace ${name}: ${r.stderr.trim()}; try \`ip netns del ${name}\``,
    );
  }
}
