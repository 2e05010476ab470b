/**
 * @module test/failures/bridge-etcd
 * Makes a loopback etcd reachable from netns hosts at `<TEST_SUBNET>.1` on the run's test
 * bridge, so that cutting a host's link really cuts it off from etcd.
 *
 * etcd stays on the machine's loopback (the test reads it from there). Two relays carry the
 * hosts' connections to it: a TCP listener on the bridge address, in a process inside the
 * bridge namespace, relays to a unix socket (a path, which crosses network namespaces), and
 * this process relays that socket to etcd. No interface or route is added to the machine's
 * own namespace, so parallel runs on the same private subnet never meet.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { runChecked } from "../harness/command.js";
import type { Cluster } from "../harness/hosts.js";
import { TEST_SUBNET } from "../harness/hosts.js";

export class BridgeEtcdError extends Error {
  override name = "BridgeEtcdError";
}

/** The relay inside the bridge namespace: TCP ADDR:PORT → unix SOCK. */
const RELAY = `
const net = require("node:net");
const [host, port, sock] = process.argv.slice(1);
const srv = net.createServer((c) => {
  const u = net.connect(sock);
  c.pipe(u); u.pipe(c);
  const end = () => { c.destroy(); u.destroy(); };
  c.on("error", end); u.on("error", end); c.on("close", end); u.on("close", end);
});
srv.listen(Number(port), host, () => process.stdout.write("listening\\n"));
`;

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on("error", end);
    s.on("close", end);
  }
}

export interface BridgeEtcd {
  /** etcd's client URL as the hosts see it. */
  readonly url: string;
  close(): Promise<void>;
}

export async function exposeEtcdOnBridge(
  cluster: Cluster,
  etcdClientUrl: string,
  port = 2379,
): Promise<BridgeEtcd> {
  const bridge = cluster.bridgeNetns;
  if (bridge === undefined) {
    throw new BridgeEtcdError("the cluster has no test bridge: boot it with { netns: true }");
  }
  const target = new URL(etcdClientUrl);
  const address = `${TEST_SUBNET}.1`;
  await runChecked(
    ["ip", "-n", bridge, "addr", "add", `${address}/24`, "dev", "br0"],
    {},
    "addressing the test bridge for etcd",
  );
  const sock = path.join(cluster.baseDir, "etcd-relay.sock");
  rmSync(sock, { force: true });
  const open = new Set<Socket>();
  const server: Server = createServer((c) => {
    const up = connect(Number(target.port), target.hostname);
    for (const s of [c, up]) {
      open.add(s);
      s.once("close", () => open.delete(s));
    }
    pipeBoth(c, up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(sock, () => resolve());
  });

  const child: ChildProcess = spawn(
    "nsenter",
    [
      `--net=/run/netns/${bridge}`,
      "--",
      "/usr/bin/setpriv",
      "--pdeathsig",
      "SIGKILL",
      "--",
      process.execPath,
      "-e",
      RELAY,
      address,
      String(port),
      sock,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("listening")) resolve();
    });
    child.once("exit", (code) =>
      reject(new BridgeEtcdError(`the bridge relay exited (${code}): ${stderr.trim()}`)),
    );
  });

  return {
    url: `http://${address}:${port}`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      rmSync(sock, { force: true });
    },
  };
}
