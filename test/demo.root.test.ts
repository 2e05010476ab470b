/**
 * `make demo` stays true: the demo script boots its 3 hosts from their cloud-configs, runs the
 * example units where their [X-Fleet] rules say, leaves the cluster usable through the fleetctl
 * wrapper it writes, and `down` removes everything (needs root and the built dist/).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RUNS_ROOT } from "./harness/hosts.js";

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const runDir = path.join(DEFAULT_RUNS_ROOT, `demo-test-${process.pid}`);
let stateDir: string;

function run(
  file: string,
  args: readonly string[],
  timeout: number,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: REPO,
        timeout,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, FLEET_DEMO_RUN_DIR: runDir, FLEET_DEMO_STATE_DIR: stateDir },
      },
      (error, out, err) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, out, err });
      },
    );
  });
}

const demo = (cmd: "up" | "down") =>
  run(path.join(REPO, "node_modules", ".bin", "tsx"), ["scripts/demo.ts", cmd], 240_000);
const fleetctl = (...args: string[]) => run(path.join(stateDir, "fleetctl"), args, 60_000);

describe("(root) make demo", () => {
  let up: { code: number; out: string; err: string };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "fleet-demo-test-"));
    up = await demo("up");
  }, 300_000);

  afterAll(async () => {
    await demo("down");
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  it("(root) boots 3 hosts from their cloud-configs and prints the three listings", () => {
    expect(up.err.slice(-2000)).not.toMatch(/^demo: /m);
    expect(up.code).toBe(0);
    expect(up.out).toContain("$ fleetctl list-machines");
    expect(up.out).toContain("$ fleetctl list-unit-files");
    expect(up.out).toContain("$ fleetctl list-units");
    expect(up.out).toContain("make demo-down");
    for (let i = 0; i < 3; i++) {
      expect(readFileSync(path.join(stateDir, `cloud-config-${i}.yml`), "utf8")).toMatch(
        /^#cloud-config\n/,
      );
    }
  });

  it("(root) every machine joined with the metadata its cloud-config gave it", async () => {
    const r = await fleetctl("list-machines", "--no-legend", "--full", "--fields=metadata");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter(Boolean).sort()).toEqual([
      "region=eu-west,role=db",
      "region=eu-west,role=web",
      "region=us-east,role=db",
    ]);
  });

  it("(root) the example units run where their [X-Fleet] rules say", async () => {
    const r = await fleetctl("list-units", "--no-legend", "--full", "--fields=unit,machine,active");
    expect(r.code).toBe(0);
    const rows = r.out
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(/\t+/) as [string, string, string]);
    const machinesOf = (unit: string) =>
      rows.filter((row) => row[0] === unit).map((row) => row[1].split("/")[0]);
    expect(rows.filter((row) => row[2] !== "active")).toEqual([]);
    // Global: once on each of the 3 machines.
    expect(new Set(machinesOf("monitor.service")).size).toBe(3);
    // Conflicts: the two web instances apart; MachineOf: the sidekick beside web@1.
    const [web1] = machinesOf("web@1.service");
    const [web2] = machinesOf("web@2.service");
    expect(web1).toBeDefined();
    expect(web1).not.toBe(web2);
    expect(machinesOf("web-announce@1.service")).toEqual([web1]);
    // MachineMetadata=role=db: on a db machine.
    const machines = await fleetctl("list-machines", "--no-legend", "--full");
    const dbMachines = machines.out
      .split("\n")
      .filter((l) => l.includes("role=db"))
      .map((l) => l.split(/\t+/)[0]);
    expect(dbMachines).toContain(machinesOf("db.service")[0]);
  });

  it("(root) down removes the hosts", async () => {
    const r = await demo("down");
    expect(r.code).toBe(0);
    expect(existsSync(path.join(runDir, "state.json"))).toBe(false);
  }, 120_000);
});
