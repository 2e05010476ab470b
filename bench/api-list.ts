/**
 * Listing 10,000 units through the API and fleetctl. Run: npx tsx bench/api-list.ts
 * Env: UNITS=10000 MACHINES=10 RUNS=5 WARMUP=1 TOKEN_LIMIT=100 PAGED=1 (PAGED=0 skips the paged
 * listings, which take a minute each at 10,000 units)
 *
 * A real etcd, the API in this process on a unix socket (fleetd's own routes and pagination,
 * fleet's default page size of 100), UNITS units each scheduled on one of MACHINES machines
 * with a reported state. Measures, median of RUNS after one warm-up:
 * - GET /fleet/v1/units, every page (fleetctl's ApiClient, zod-validated);
 * - GET /fleet/v1/state, every page;
 * - `fleetctl list-unit-files` and `fleetctl list-units`, in-process (reads + table);
 * - `fleetctl list-units` as a process (node dist/cli/fleetctl.js) when dist/ is built: what an
 *   operator waits for, node's start-up included.
 * Target: fleetctl list-units at 10,000 units within 1 s.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApi } from "../agent/api/api.js";
import { listen } from "../agent/api/server.js";
import { memoryLogger } from "../agent/logging/logger.js";
import { encode, type UnitRecord, UnitRecordSchema } from "../agent/registry/codecs.js";
import type { Op } from "../agent/registry/kv.js";
import { MAX_TXN_OPS } from "../agent/registry/kv.js";
import { MachinePresence } from "../agent/registry/machines.js";
import { Registry } from "../agent/registry/registry.js";
import type { ScheduleChange } from "../agent/registry/schedule.js";
import { ApiClient } from "../cli/api-client.js";
import { resolveEndpoint } from "../cli/endpoint.js";
import { runFleetctl } from "../cli/program.js";
import { startEtcd } from "../test/harness/etcd.js";
import { unitHash } from "../units/unit-file.js";
import { fmt, median } from "./stats.js";

const UNITS = Number(process.env.UNITS ?? 10_000);
const MACHINES = Number(process.env.MACHINES ?? 10);
const RUNS = Number(process.env.RUNS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 1);
const PAGED = process.env.PAGED !== "0";
const TOKEN_LIMIT = Number(process.env.TOKEN_LIMIT ?? 100);
const REPO = fileURLToPath(new URL("..", import.meta.url));
const log = (msg: string) =>
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function timeAsync(fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

async function main(): Promise<void> {
  const etcd = await startEtcd({ extraArgs: ["--quota-backend-bytes=4294967296"] });
  const registry = new Registry({
    endpoints: etcd.endpoints,
    prefix: "/bench-list/",
    log: memoryLogger("error"),
  });
  const api = createApi({
    registry,
    tokenLimit: TOKEN_LIMIT,
    version: "bench",
    log: memoryLogger("error"),
  });
  const dir = mkdtempSync(join(tmpdir(), "bench-api-list-"));
  const sock = join(dir, "fleet.sock");
  const listener = await listen(`unix://${sock}`, api.handler, { upgrade: api.upgrade });
  const presences: MachinePresence[] = [];
  try {
    const ids = Array.from({ length: MACHINES }, (_, i) => i.toString(16).padStart(32, "0"));
    for (const [i, id] of ids.entries()) {
      presences.push(
        await MachinePresence.register({
          client: registry.client,
          kv: registry.kv,
          keys: registry.keys,
          log: registry.log,
          record: {
            id,
            publicIP: `10.0.0.${i + 1}`,
            metadata: { role: "web" },
            version: "b",
            startedAt: 0,
          },
          ttlSeconds: 600,
        }),
      );
    }
    log(`seeding ${UNITS} units, schedule entries and states on ${MACHINES} machines`);
    const records: UnitRecord[] = Array.from({ length: UNITS }, (_, i) => {
      const options = [
        { section: "Unit", name: "Description", value: `bench unit ${i}` },
        { section: "Service", name: "ExecStart", value: `/bin/sleep ${100000 + i}` },
      ];
      return {
        name: `u${String(i).padStart(5, "0")}.service`,
        options,
        hash: unitHash(options),
        desiredState: "launched",
      };
    });
    const puts: Op[] = records.map((u) => ({
      type: "put",
      key: registry.keys.unit(u.name),
      value: encode(UnitRecordSchema, u),
    }));
    for (let i = 0; i < puts.length; i += MAX_TXN_OPS)
      await registry.kv.txn([], puts.slice(i, i + MAX_TXN_OPS));
    const changes: ScheduleChange[] = records.map((u, i) => ({
      type: "schedule",
      machineId: ids[i % MACHINES] as string,
      unit: u.name,
      entry: { hash: u.hash, desiredState: "launched" },
    }));
    await registry.schedule.apply(changes, []);
    for (const [m, id] of ids.entries()) {
      await registry.states.publish(
        id,
        presences[m]?.leaseId as string,
        records
          .filter((_, i) => i % MACHINES === m)
          .map((u) => ({
            unit: u.name,
            state: {
              loadState: "loaded",
              activeState: "active",
              subState: "running",
              hash: u.hash,
              since: 1,
            },
          })),
      );
    }

    const client = new ApiClient({
      endpoint: resolveEndpoint({ endpoint: `unix://${sock}` }, () => {}),
      timeoutMs: 30_000,
    });
    const check = await client.units();
    if (check.length !== UNITS)
      throw new Error(`expected ${UNITS} units, the API lists ${check.length}`);
    const io = {
      stdout: () => {},
      stderr: (s: string) => process.stderr.write(s),
      env: { FLEETCTL_ENDPOINT: `unix://${sock}` },
      cwd: dir,
      isTTY: false,
    };
    const rows: [string, number[]][] = [];
    const row = (what: string, ms: number[]) => {
      rows.push([what, ms]);
      log(`${what}: median ${fmt(median(ms))} ms`);
    };
    if (PAGED) {
      log("GET /fleet/v1/units, all pages");
      row(
        `GET /fleet/v1/units, ${Math.ceil(UNITS / TOKEN_LIMIT)} pages`,
        await timeAsync(() => client.units()),
      );
      log("GET /fleet/v1/state, all pages");
      row(
        `GET /fleet/v1/state, ${Math.ceil(UNITS / TOKEN_LIMIT)} pages`,
        await timeAsync(() => client.states()),
      );
      log("fleetctl list-unit-files (in-process)");
      row(
        "fleetctl list-unit-files (in-process)",
        await timeAsync(() => runFleetctl(["list-unit-files"], io)),
      );
    }
    log("fleetctl list-units (in-process)");
    row("fleetctl list-units (in-process)", await timeAsync(() => runFleetctl(["list-units"], io)));
    const bin = join(REPO, "dist/cli/fleetctl.js");
    if (existsSync(bin)) {
      log("fleetctl list-units (process)");
      row(
        "fleetctl list-units (node dist/cli/fleetctl.js)",
        // Asynchronously: the API answering it runs in this process.
        await timeAsync(
          () =>
            new Promise<void>((resolve, reject) => {
              const child = spawn(process.execPath, [bin, "list-units"], {
                env: { ...process.env, FLEETCTL_ENDPOINT: `unix://${sock}` },
                stdio: ["ignore", "ignore", "pipe"],
              });
              let err = "";
              child.stderr.on("data", (c) => {
                err += c;
              });
              child.on("exit", (code) =>
                code === 0
                  ? resolve()
                  : reject(new Error(`fleetctl list-units exited ${code}: ${err}`)),
              );
            }),
        ),
      );
    }
    process.stdout.write(
      `\nfleetctl / API listing, ${UNITS} units on ${MACHINES} machines, page size ${TOKEN_LIMIT}, median of ${RUNS} after ${WARMUP} warm-up (ms)\n\n`,
    );
    process.stdout.write("| what | median | min | max |\n|---|---|---|---|\n");
    for (const [what, ms] of rows) {
      process.stdout.write(
        `| ${what} | ${fmt(median(ms))} | ${fmt(Math.min(...ms))} | ${fmt(Math.max(...ms))} |\n`,
      );
    }
  } finally {
    for (const p of presences) await p.revoke().catch(() => {});
    await api.close();
    await listener.close();
    registry.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
