/**
 * (root) A fresh host whose only input is a cloud-config boots into the cluster: the oneshot
 * fleet-cloudinit.service writes its files, the fleet drop-in and units, fleetd starts with the
 * document's etcd endpoints and metadata and appears in the machine list; after a reboot the
 * applier finds nothing new to apply.
 */
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudInitHostFiles } from "./harness/cloudinit-host.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";
import { bootHosts, type Cluster } from "./harness/hosts.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
let etcd: EtcdCluster;
let cluster: Cluster;

function userData(endpoints: string): string {
  return `#cloud-config
hostname: ci-web1
users:
  - name: deploy
    shell: /bin/sh
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey deploy@test
write_files:
  - path: /home/deploy/notes.txt
    owner: deploy:deploy
    permissions: '0640'
    content: "mine\\n"
  - path: /etc/motd
    content: "booted by fleet-cloudinit\\n"
  - path: /opt/bin/hello.sh
    permissions: '0755'
    content: |
      #!/bin/sh
      exec sleep 100000
coreos:
  fleet:
    etcd_servers: ${endpoints}
    metadata: role=web,region=test
    public-ip: 127.0.0.21
  units:
    - name: hello.service
      command: start
      content: |
        [Unit]
        Description=Hello from cloud-config
        [Service]
        ExecStart=/opt/bin/hello.sh
    - name: fleet.service
      command: start
`;
}

function getMachines(sock: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, path: "/fleet/v1/machines", method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

async function machines(): Promise<
  { id: string; primaryIP: string; metadata?: Record<string, string> }[]
> {
  try {
    const r = (await getMachines(`${cluster.hosts[0]?.rootDir}/run/fleet.sock`)) as {
      machines?: { id: string; primaryIP: string; metadata?: Record<string, string> }[];
    };
    return r.machines ?? [];
  } catch {
    return [];
  }
}

async function journal(): Promise<string> {
  return (
    await cluster.exec(0, [
      "journalctl",
      "-b",
      "-u",
      "fleet-cloudinit.service",
      "--no-pager",
      "-o",
      "cat",
    ])
  ).stdout;
}

describe("(root) fleet-cloudinit boots a host from its cloud-config", () => {
  beforeAll(async () => {
    etcd = await startEtcd();
    cluster = await bootHosts({
      count: 1,
      binds: [REPO],
      files: () => cloudInitHostFiles(REPO, userData(etcd.endpoints.join(","))),
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.teardown();
    await etcd?.stop();
  });

  it("(root) the oneshot unit applied the document: files, hostname, units running", async () => {
    await expect
      .poll(
        async () =>
          (await cluster.systemctl(0, "is-active", "fleet-cloudinit.service")).stdout.trim(),
        {
          timeout: 60_000,
        },
      )
      .toBe("active");
    expect(cluster.readFile(0, "/etc/motd")).toBe("booted by fleet-cloudinit\n");
    expect((await cluster.exec(0, ["stat", "-c", "%a", "/opt/bin/hello.sh"])).stdout.trim()).toBe(
      "755",
    );
    expect(cluster.readFile(0, "/etc/hostname")).toBe("ci-web1\n");
    expect((await cluster.exec(0, ["hostname"])).stdout.trim()).toBe("ci-web1");
    expect((await cluster.exec(0, ["id", "-un", "deploy"])).stdout.trim()).toBe("deploy");
    expect(cluster.readFile(0, "/home/deploy/.ssh/authorized_keys")).toBe(
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey deploy@test\n",
    );
    expect(
      (
        await cluster.exec(0, [
          "stat",
          "-c",
          "%U:%G %a",
          "/home/deploy/notes.txt",
          "/home/deploy/.ssh/authorized_keys",
          "/home/deploy/.ssh",
        ])
      ).stdout,
    ).toBe("deploy:deploy 640\ndeploy:deploy 600\ndeploy:deploy 700\n");
    expect(cluster.readFile(0, "/run/systemd/system/fleet.service.d/20-cloudinit.conf")).toBe(
      `[Service]\nEnvironment="FLEET_ETCD_SERVERS=${etcd.endpoints.join(",")}"\nEnvironment="FLEET_METADATA=role=web,region=test"\nEnvironment="FLEET_PUBLIC_IP=127.0.0.21"\n`,
    );
    await expect
      .poll(async () => (await cluster.systemctl(0, "is-active", "hello.service")).stdout.trim(), {
        timeout: 30_000,
      })
      .toBe("active");
    expect((await cluster.systemctl(0, "is-active", "fleet.service")).stdout.trim()).toBe("active");
  }, 120_000);

  it("(root) fleetd registered with the document's metadata and public IP", async () => {
    await expect.poll(async () => (await machines()).length, { timeout: 60_000 }).toBe(1);
    const [m] = await machines();
    expect(m?.id).toBe(cluster.hosts[0]?.machineId);
    expect(m?.primaryIP).toBe("127.0.0.21");
    expect(m?.metadata).toEqual({ region: "test", role: "web" });
  }, 90_000);

  it("(root) a second run in the same boot changes nothing and says so", async () => {
    const r = await cluster.exec(0, [
      "/usr/bin/node",
      `${REPO}/dist/cloud-config/main.js`,
      "--from-file",
      "/var/lib/fleet-cloudinit/user-data",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing to change");
    expect(r.stdout).not.toContain("applied:");
  }, 60_000);

  it("(root) after a reboot nothing new is applied; fleetd is back in the list", async () => {
    await cluster.stopHost(0);
    await cluster.bootHost(0);
    await expect
      .poll(
        async () =>
          (await cluster.systemctl(0, "is-active", "fleet-cloudinit.service")).stdout.trim(),
        {
          timeout: 60_000,
        },
      )
      .toBe("active");
    const log = await journal();
    expect(log).toContain("nothing new to apply");
    expect(log).not.toMatch(/applied: write \/etc\//);
    const state = JSON.parse(cluster.readFile(0, "/var/lib/fleet-cloudinit/state.json")) as {
      persistentChanges: number;
    };
    expect(state.persistentChanges).toBe(0);
    await expect
      .poll(async () => (await machines()).map((m) => m.metadata?.role), { timeout: 60_000 })
      .toEqual(["web"]);
  }, 180_000);
});
