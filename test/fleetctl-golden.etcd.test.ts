/**
 * Our fleetctl against fleet v1.0.0's recorded outputs (test/fixtures/fleetctl-golden), byte
 * for byte: stdout, stderr and exit code of each case this test can reproduce, in the order
 * golden.sh recorded them. The API runs in-process on real etcd (needs etcd); the three
 * machines are registered with the golden IDs, IPs and metadata, and a stand-in for the engine
 * and the agents places each unit where fleet placed it in the recording (placement there was
 * least-loaded, so not deterministic) and reports systemd's states for it, through the registry.
 *
 * Cases deliberately different from fleet are listed in DIFFERENT and asserted as such.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiHandler } from "../agent/api/routes.js";
import { type Listener, listen } from "../agent/api/server.js";
import { memoryLogger } from "../agent/logging/logger.js";
import type { UnitStateRecord } from "../agent/registry/codecs.js";
import { MachinePresence } from "../agent/registry/machines.js";
import { Registry } from "../agent/registry/registry.js";
import { FLEET_PACE } from "../cli/context.js";
import { runFleetctl } from "../cli/program.js";
import { type EtcdCluster, startEtcd } from "./harness/etcd.js";

const GOLDEN = new URL("./fixtures/fleetctl-golden/", import.meta.url);
const golden = (name: string) => ({
  out: readFileSync(new URL(`${name}.out`, GOLDEN), "utf8"),
  err: readFileSync(new URL(`${name}.err`, GOLDEN), "utf8"),
  code: Number(readFileSync(new URL(`${name}.rc`, GOLDEN), "utf8").trim()),
});

const H1 = "537e57b1a935390e863a7b2b71b1b1ac";
const H2 = "2499e47deeeb1dfd3fadb0110f699d12";
const H3 = "1c82c571ade00fda5f2a91a241cd070c";
const MACHINES = [
  { id: H1, publicIP: "127.0.0.11", metadata: { host: "h1", region: "us-east-1", role: "web" } },
  { id: H2, publicIP: "127.0.0.12", metadata: { host: "h2", region: "us-west-1", role: "db" } },
  { id: H3, publicIP: "127.0.0.13", metadata: { host: "h3", region: "eu-west-1", role: "web" } },
];
/** Where fleet placed each unit in the recording. */
const PLAN: Record<string, readonly string[]> = {
  "hello@1.service": [H3],
  "db.service": [H2],
  "loaded.service": [H1],
  "lifecycle.service": [H3],
  "global.service": [H1, H2, H3],
  "quick.service": [H2],
};
const UNSCHEDULABLE_REASON = "no machine has role=nonexistent (3 machines checked)";

/**
 * Golden cases fleetctl reproduces differently on purpose, and why. Each is asserted below
 * with what fleet-ts prints instead.
 */
const DIFFERENT: Record<string, string> = {
  version: "fleet-ts's version, not fleet's 1.0.0+git4522498",
  "fleetctl--version": "fleet-ts's version",
  help: "commander's help layout and fleet-ts's command set (no ssh/fd-forward; drain, undrain)",
  "no-args": "same as help",
  "list-machines-l":
    "fleet rejected -l (a long flag named l) with usage and exit 0; -l means --full here, as fleet's own usage line promised",
  "status.hello@1":
    "no SSH: status goes through the API, which proxies to the unit's machine (none here: 502)",
  "status.global":
    "fleet printed nothing for a global unit; we show each machine's status (502 here)",
  "journal.hello@1": "no SSH: the journal streams over the API's WebSocket (502 here: no host)",
  "status.hello@1.inside-host": "needs a real systemd host: test/fleetctl-e2e.root.test.ts",
  "submit.bad": "our parser names the line and says how to fix it",
  "start.template": "the API's message says which instance to start instead",
  "start.unschedulable--block-attempts=3": "fleet's lines, then the scheduler's reason",
  "unknown-command": "exit code 2 (fleet: 0) and no cobra 'cannot execute' line",
};

let etcd: EtcdCluster;
let registry: Registry;
let api: Listener;
let sockDir: string;
let unitDir: string;
const presences: MachinePresence[] = [];
let standIn: StandIn;

/**
 * The engine and agents of the recording, in miniature: places each launched/loaded unit on
 * its PLAN machines and reports the systemd state fleet's agents reported (running when
 * launched, dead when loaded), removes both when the unit is unloaded or destroyed. A unit
 * with no plan gets the scheduler's reason instead. Written through the registry, as the real
 * engine and agents write it.
 */
class StandIn {
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #written = new Map<string, string>();

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#step()
        .catch(() => {})
        .finally(() => {
          this.#busy = false;
        });
    }, 10);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #step(): Promise<void> {
    const units = new Map((await registry.units.list()).items.map((u) => [u.value.name, u.value]));
    const names = new Set([
      ...units.keys(),
      ...[...this.#written.keys()].map((k) => k.split("\u0000")[0] as string),
    ]);
    for (const name of names) {
      const u = units.get(name);
      const want = u === undefined || u.desiredState === "inactive" ? undefined : u.desiredState;
      const plan = PLAN[name];
      if (want !== undefined && plan === undefined) {
        const key = `${name}\u0000reason`;
        if (!this.#written.has(key)) {
          await registry.schedule.apply(
            [{ type: "reason", unit: name, reason: UNSCHEDULABLE_REASON }],
            [],
          );
          this.#written.set(key, "reason");
        }
        continue;
      }
      for (const machine of plan ?? MACHINES.map((m) => m.id)) {
        const key = `${name}\u0000${machine}`;
        const sig = want === undefined || u === undefined ? undefined : `${want}/${u.hash}`;
        if (this.#written.get(key) === sig) continue;
        const lease = presences[MACHINES.findIndex((m) => m.id === machine)]?.leaseId as string;
        if (sig === undefined || u === undefined || want === undefined) {
          if (!this.#written.has(key)) continue;
          await registry.schedule.apply(
            [{ type: "unschedule", machineId: machine, unit: name }],
            [],
          );
          await registry.states.publish(machine, lease, [{ unit: name, state: undefined }]);
          this.#written.delete(key);
          continue;
        }
        await registry.schedule.apply(
          [
            {
              type: "schedule",
              machineId: machine,
              unit: name,
              entry: { hash: u.hash, desiredState: want },
            },
          ],
          [],
        );
        const state: UnitStateRecord =
          want === "launched"
            ? {
                loadState: "loaded",
                activeState: "active",
                subState: "running",
                hash: u.hash,
                since: 1,
              }
            : {
                loadState: "loaded",
                activeState: "inactive",
                subState: "dead",
                hash: u.hash,
                since: 1,
              };
        await registry.states.publish(machine, lease, [{ unit: name, state }]);
        this.#written.set(key, sig);
      }
    }
  }
}

// fleet's 250 ms / 2 s pace, shortened: what is waited for is the same.
const TEST_PACE = { ...FLEET_PACE, pollMs: 10, attemptMs: 200 };

async function fleetctl(...args: string[]) {
  return fleetctlAt(TEST_PACE, ...args);
}

async function fleetctlAt(pace: typeof FLEET_PACE, ...args: string[]) {
  let out = "";
  let err = "";
  const code = await runFleetctl(
    args,
    {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
      env: { FLEETCTL_ENDPOINT: `unix://${join(sockDir, "fleet.sock")}` },
      cwd: unitDir,
      isTTY: false,
    },
    pace,
  );
  return { out, err, code };
}

/** Runs the golden case's command line and expects fleet's bytes. */
async function same(name: string, ...args: string[]) {
  expect(DIFFERENT[name]).toBeUndefined();
  expect(await fleetctl(...args)).toEqual(golden(name));
}

beforeAll(async () => {
  etcd = await startEtcd();
  registry = new Registry({ endpoints: etcd.endpoints, prefix: "/golden/", log: memoryLogger() });
  sockDir = mkdtempSync(join(tmpdir(), "fleetctl-golden-"));
  api = await listen(
    `unix://${join(sockDir, "fleet.sock")}`,
    apiHandler({ registry, tokenLimit: 100, version: "test", log: memoryLogger() }),
  );
  for (const m of MACHINES) {
    presences.push(
      await MachinePresence.register({
        client: registry.client,
        kv: registry.kv,
        keys: registry.keys,
        log: registry.log,
        record: { ...m, version: "test", startedAt: 0 },
        ttlSeconds: 30,
      }),
    );
  }
  unitDir = mkdtempSync(join(tmpdir(), "fleetctl-golden-units-"));
  const files: Record<string, string> = {
    "hello@.service": "[Unit]\nDescription=Hello %i\n\n[Service]\nExecStart=/bin/sleep 100000\n",
    "global.service":
      "[Unit]\nDescription=Global sleeper\n\n[Service]\nExecStart=/bin/sleep 100000\n\n[X-Fleet]\nGlobal=true\n",
    "db.service":
      "[Unit]\nDescription=Runs on role=db only\n\n[Service]\nExecStart=/bin/sleep 100000\n\n[X-Fleet]\nMachineMetadata=role=db\n",
    "lifecycle.service":
      "[Unit]\nDescription=Lifecycle test\n\n[Service]\nExecStart=/bin/sleep 100000\n",
    "loaded.service": "[Unit]\nDescription=Only loaded\n\n[Service]\nExecStart=/bin/sleep 100000\n",
    "submitted.service":
      "[Unit]\nDescription=Only submitted\n\n[Service]\nExecStart=/bin/sleep 100000\n",
    "bad.service": "[Unit]\nDescription=Bad unit\n[Service\nExecStart=\n",
    "broken.service": "this is not a unit file\n",
    "unschedulable.service":
      "[Unit]\nDescription=never schedulable\n\n[Service]\nExecStart=/bin/sleep 100000\n\n[X-Fleet]\nMachineMetadata=role=nonexistent\n",
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(unitDir, f), text);
  standIn = new StandIn();
  standIn.start();
});

afterAll(async () => {
  standIn?.stop();
  for (const p of presences) await p.revoke().catch(() => {});
  await api?.close();
  registry?.close();
  await etcd?.stop();
  if (sockDir !== undefined) rmSync(sockDir, { recursive: true, force: true });
  if (unitDir !== undefined) rmSync(unitDir, { recursive: true, force: true });
});

describe("(etcd) fleetctl against fleet v1.0.0's golden outputs", () => {
  it("(etcd) prints fleet's bytes on an empty cluster", async () => {
    await same("list-units.empty", "list-units");
    await same("list-unit-files.empty", "list-unit-files");
    await same("list-machines", "list-machines");
    await same("list-machines--l", "list-machines", "--l");
    await same("list-machines--full", "list-machines", "--full");
    await same("list-machines--no-legend", "list-machines", "--no-legend");
    await same(
      "list-machines--fields=machine,ip,metadata--no-legend",
      "list-machines",
      "--fields=machine,ip,metadata",
      "--no-legend",
    );
    await same("list-machines--fields=bogus", "list-machines", "--fields=bogus");
  });

  it("(etcd) version, help, -l and unknown commands differ on purpose", async () => {
    for (const name of ["version", "fleetctl--version"]) {
      expect(DIFFERENT[name]).toBeDefined();
      expect(golden(name).out).toMatch(/^fleetctl version 1\.0\.0/);
    }
    expect(await fleetctl("version")).toEqual({
      out: "fleetctl version 0.1.0\n",
      err: "",
      code: 0,
    });
    expect(await fleetctl("--version")).toEqual({
      out: "fleetctl version 0.1.0\n",
      err: "",
      code: 0,
    });
    const help = await fleetctl("help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("list-unit-files");
    expect(help.out).toContain("drain");
    expect((await fleetctl()).out).toBe(help.out);
    // fleet: usage and exit 0 for -l; here -l is --full, as fleet's usage line said.
    expect(await fleetctl("list-machines", "-l")).toEqual(golden("list-machines--full"));
    expect(golden("unknown-command").code).toBe(0);
    expect(await fleetctl("frobnicate")).toEqual({
      out: "",
      err: 'Error: unknown command "frobnicate" for "fleetctl"\nRun \'fleetctl --help\' for usage.\n',
      code: 2,
    });
  });

  it("(etcd) start, load and submit populate the cluster with fleet's messages", async () => {
    await same("start.hello@1", "start", "hello@1.service");
    await same("start.global", "start", "global.service");
    await same("start.db", "start", "db.service");
    await same("load.loaded", "load", "loaded.service");
    await same("submit.submitted", "submit", "submitted.service");
  });

  it("(etcd) lists units, unit files and their fields as fleet did", async () => {
    await same("list-unit-files", "list-unit-files");
    await same("list-unit-files--full", "list-unit-files", "--full");
    await same("list-unit-files--no-legend", "list-unit-files", "--no-legend");
    await same(
      "list-unit-files--fields=unit,hash,dstate,state,target,desc,global",
      "list-unit-files",
      "--full",
      "--fields=unit,hash,dstate,state,target,desc,global",
    );
    await same("list-units", "list-units");
    await same(
      "list-units--full--fields=unit,machine,active,sub,load,hash",
      "list-units",
      "--full",
      "--fields=unit,machine,active,sub,load,hash",
    );
    await same("list-units--no-legend", "list-units", "--no-legend");
    await same("list-units--fields=bogus", "list-units", "--fields=bogus");
    // Inside a host, fleet's answer was the same listing.
    expect((await fleetctl("list-units")).out).toBe(golden("list-units.inside-host").out);
  });

  it("(etcd) cat and status's own checks are fleet's", async () => {
    await same("cat.hello@1", "cat", "hello@1.service");
    await same("cat.global", "cat", "global.service");
    await same("cat.missing", "cat", "missing.service");
    await same("status.submitted", "status", "submitted.service");
    await same("status.missing", "status", "missing.service");
  });

  it("(etcd) status and journal go through the API, not SSH (no host runs them here)", async () => {
    for (const name of ["status.hello@1", "status.global", "journal.hello@1"])
      expect(DIFFERENT[name]).toBeDefined();
    expect(golden("status.hello@1")).toMatchObject({ code: 255, err: /^Unable to SSH/ });
    expect(golden("journal.hello@1")).toMatchObject({ code: 255, err: /^Unable to SSH/ });
    expect(golden("status.global")).toEqual({ out: "", err: "", code: 0 });
    const status = await fleetctl("--ssh-timeout=2", "status", "hello@1.service");
    expect(status.code).toBe(1);
    expect(status.out).toBe("");
    expect(status.err).toMatch(
      /^Error retrieving status of hello@1\.service: googleapi: Error \d+: /,
    );
    const journal = await fleetctl("--ssh-timeout=2", "journal", "hello@1.service");
    expect(journal.code).toBe(1);
    expect(journal.err).toMatch(/^Error reading journal of hello@1\.service: /);
  });

  it("(etcd) one unit's lifecycle prints what fleet printed", async () => {
    await same("lifecycle.1.submit", "submit", "lifecycle.service");
    await same("lifecycle.1b.submit-again", "submit", "lifecycle.service");
    await same("lifecycle.2.load", "load", "lifecycle.service");
    await same(
      "lifecycle.2b.list-unit-files",
      "list-unit-files",
      "--full",
      "--fields=unit,dstate,state",
    );
    await same("lifecycle.3.start", "start", "lifecycle.service");
    await same("lifecycle.3b.start-again", "start", "lifecycle.service");
    await same("lifecycle.4.stop", "stop", "lifecycle.service");
    await same("lifecycle.4b.stop-again", "stop", "lifecycle.service");
    await same("lifecycle.5.unload", "unload", "lifecycle.service");
    await same("lifecycle.5b.unload-again", "unload", "lifecycle.service");
    await same("lifecycle.6.destroy", "destroy", "lifecycle.service");
    await same("lifecycle.6b.destroy-again", "destroy", "lifecycle.service");
    await same("start--no-block", "start", "--no-block", "lifecycle.service");
    await same("destroy.after-no-block", "destroy", "lifecycle.service");
  });

  it("(etcd) errors are fleet's messages and exit codes", async () => {
    await same("start.nonexistent", "start", "nonexistent.service");
    await same("load.nonexistent", "load", "nonexistent.service");
    await same("submit.nonexistent", "submit", "nonexistent.service");
    await same("stop.nonexistent", "stop", "nonexistent.service");
    await same("destroy.nonexistent", "destroy", "nonexistent.service");
    await same("verify.bad", "verify", "bad.service");
    await same("submit.broken", "submit", "broken.service");
    expect(await fleetctl("submit", "bad.service")).toEqual({
      out: "",
      err: "Error creating units: failed getting Unit(bad.service) from file: bad.service: line 3: section header is not closed: write it as [Name] on one line\n",
      code: 1,
    });
    const template = await fleetctl("start", "hello@.service");
    expect(template.out).toBe(golden("start.template").out);
    expect(template.code).toBe(1);
    expect(template.err).toMatch(
      /^Error starting units: googleapi: Error 400: cannot activate template "hello@\.service"/,
    );
    await same("submit.template", "submit", "hello@.service");
  });

  it("(etcd) a start that gives up says fleet's lines, then the scheduler's reason", async () => {
    const g = golden("start.unschedulable--block-attempts=3");
    const r = await fleetctl("start", "--block-attempts=3", "unschedulable.service");
    expect(r.out).toBe(g.out);
    expect(r.code).toBe(g.code);
    expect(r.err).toBe(
      `${g.err}Unit unschedulable.service is not placed: ${UNSCHEDULABLE_REASON}\n`,
    );
    await same("list-units.with-unschedulable", "list-units");
    await same("list-unit-files.with-unschedulable", "list-unit-files");
    const reasons = await fleetctl("list-unit-files", "--fields=unit,reason", "--no-legend");
    expect(reasons.out).toContain(`unschedulable.service\t${UNSCHEDULABLE_REASON}\n`);
    const status = await fleetctl("status", "unschedulable.service");
    expect(status).toEqual({
      out: "",
      err: `Unit unschedulable.service does not appear to be loaded.\nUnit unschedulable.service is not placed: ${UNSCHEDULABLE_REASON}\n`,
      code: 1,
    });
    await same("destroy.unschedulable", "destroy", "unschedulable.service");
    await same("destroy.template", "destroy", "hello@.service");
  });

  it("(etcd) -o json prints the API's objects for scripts", async () => {
    const units = await fleetctl("list-unit-files", "-o", "json");
    expect(units.code).toBe(0);
    const parsed = JSON.parse(units.out) as { name: string; machineID?: string }[];
    expect(parsed.map((u) => u.name)).toEqual([
      "db.service",
      "global.service",
      "hello@1.service",
      "loaded.service",
      "submitted.service",
    ]);
    expect(parsed.find((u) => u.name === "db.service")?.machineID).toBe(H2);
    const states = JSON.parse((await fleetctl("list-units", "--output=json")).out) as unknown[];
    expect(states).toHaveLength(6);
    expect(states[0]).toEqual({
      name: "db.service",
      hash: "00088972f632ed121e74debf20e770f5f539e081",
      machineID: H2,
      systemdActiveState: "active",
      systemdLoadState: "loaded",
      systemdSubState: "running",
    });
    const machines = JSON.parse((await fleetctl("list-machines", "-o", "json")).out) as {
      id: string;
    }[];
    expect(machines.map((m) => m.id)).toEqual([H3, H2, H1]);
    expect(await fleetctl("list-units", "-o", "yaml")).toMatchObject({ code: 2, out: "" });
  });

  it("(etcd) metadata patched over the API shows in list-machines", async () => {
    await registry.machines.patchMetadata(H3, [{ op: "add", key: "extra", value: "yes" }]);
    await same("list-machines.after-patch", "list-machines", "--full");
    await registry.machines.patchMetadata(H3, [{ op: "remove", key: "extra" }]);
  });

  it("(etcd) a wait checks before its first pause, and its first pauses are short", async () => {
    // fleet slept a poll interval before its first check; a pause of a minute here would
    // lose the race below.
    writeFileSync(join(unitDir, "quick.service"), "[Service]\nExecStart=/bin/sleep 100000\n");
    const slow = { ...FLEET_PACE, pollMs: 60_000, attemptMs: 60_000 };
    const paused = new Promise((r) => setTimeout(() => r("paused"), 10_000).unref());
    expect(await Promise.race([fleetctlAt(slow, "submit", "quick.service"), paused])).toEqual({
      out: "Unit quick.service inactive\n",
      err: "",
      code: 0,
    });
    // A blocking start: the stand-in agent reports the unit running ~10 ms after it is
    // scheduled. The first pauses are short, whatever the pace; the pace's interval is only
    // reached later (here 60 s: it would lose the race).
    const started = await Promise.race([fleetctlAt(slow, "start", "quick.service"), paused]);
    expect(started).toMatchObject({ err: "", code: 0 });
    expect((started as { out: string }).out).toMatch(/^Unit quick\.service launched on /m);
    expect((await fleetctl("destroy", "quick.service")).code).toBe(0);
  });

  it("(etcd) destroying everything empties the listings", async () => {
    await same(
      "destroy.all",
      "destroy",
      "hello@1.service",
      "global.service",
      "db.service",
      "loaded.service",
      "submitted.service",
    );
    await expect
      .poll(async () => (await fleetctl("list-units")).out)
      .toBe(golden("list-units.after-destroy").out);
    await same("list-units.after-destroy", "list-units");
    await same("list-unit-files.after-destroy", "list-unit-files");
  });
});
