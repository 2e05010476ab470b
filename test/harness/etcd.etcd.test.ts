import { existsSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { type EtcdCluster, startEtcd } from "./etcd.js";
import { isAlive } from "./process-identity.js";

describe("(etcd) test etcd launcher", () => {
  const started: EtcdCluster[] = [];
  afterAll(async () => {
    for (const c of started) await c.stop();
  });

  it("(etcd) starts one member that answers puts and gets, and stops without a trace", async () => {
    const etcd = await startEtcd();
    started.push(etcd);
    const client = new Etcd3({ hosts: etcd.endpoints });
    await client.put("k").value("v");
    expect(await client.get("k").string()).toBe("v");
    client.close();
    const pid = etcd.members[0]?.pid;
    const dir = etcd.members[0]?.dataDir ?? "";
    expect(pid).toBeGreaterThan(0);
    await etcd.stop();
    expect(isAlive({ pid: pid ?? 0, startTime: "x" })).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await etcd.stop(); // idempotent
  });

  it("(etcd) runs a 3-member cluster that survives one member's death and restart", async () => {
    const etcd = await startEtcd({ members: 3 });
    started.push(etcd);
    expect(new Set(etcd.endpoints).size).toBe(3);
    const client = new Etcd3({ hosts: etcd.endpoints });
    await client.put("a").value("1");
    await etcd.killMember(0);
    expect(etcd.members[0]?.pid).toBeUndefined();
    await client.put("b").value("2");
    await etcd.restartMember(0);
    const only0 = new Etcd3({ hosts: [etcd.endpoints[0] as string] });
    await expect.poll(() => only0.get("b").string(), { timeout: 5000 }).toBe("2");
    only0.close();
    client.close();
    await etcd.stop();
  });
});
