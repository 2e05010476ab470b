#!/usr/bin/env node
/**
 * @module agent/main
 * The `fleetd` command. Configuration from flags, FLEET_* variables and /etc/fleet/fleet.conf
 * (agent/config); logs to stderr for journald.
 *
 * SIGTERM and SIGINT stop fleetd without touching the host's units (fleet purged them, so
 * every fleetd upgrade restarted the whole host's workload: fleet issue #1086). The lease is
 * kept in a runtime file so that the next fleetd, if it starts within agent_ttl, takes the
 * machine over: nothing is rescheduled, stopped or restarted.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { ConfigError } from "./config/errors.js";
import { DEFAULT_CONFIG_FILE, loadConfig } from "./config/load.js";
import { OPTION_NAMES, OPTIONS } from "./config/schema.js";
import { FLEETD_VERSION, Fleetd, FleetdError } from "./fleetd.js";
import { levelForVerbosity, stderrLogger } from "./logging/logger.js";

/** Where a fleetd leaves its lease for the next one (runtime: a reboot outlives no lease). */
export const LEASE_FILE = "/run/fleet/lease";

function readLease(path: string): string | undefined {
  try {
    const id = readFileSync(path, "utf8").trim();
    return /^\d+$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("fleetd")
    .description("fleet-ts daemon: runs the cluster's units on this machine")
    .version(FLEETD_VERSION, "--version")
    .option("--config <path>", `config file (default ${DEFAULT_CONFIG_FILE})`)
    .option("--lease-file <path>", "where to keep the lease for the next fleetd", LEASE_FILE)
    .allowUnknownOption(false);
  for (const name of OPTION_NAMES) {
    // fleet's flags are --etcd_servers; --etcd-servers works too. A boolean option may be
    // given bare (--disable-engine) or with a value (--disable-engine=false).
    const boolean = OPTIONS[name].default === "true" || OPTIONS[name].default === "false";
    const arg = boolean ? "[value]" : "<value>";
    program.option(`--${name.replace(/_/g, "-")} ${arg}`, OPTIONS[name].description);
    if (name.includes("_"))
      program.option(`--${name} ${arg}`, `same as --${name.replace(/_/g, "-")}`);
  }
  program.parse(argv, { from: "user" });
  const opts = program.opts<Record<string, string | boolean | undefined>>();
  // Keyed by the flag as typed, so an error names it as the operator wrote it.
  const flags: Record<string, string | boolean | undefined> = {};
  for (const name of OPTION_NAMES) {
    const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[name] !== undefined && name.includes("_")) flags[name] = opts[name];
    else if (opts[camel] !== undefined) flags[name.replace(/_/g, "-")] = opts[camel];
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({
      ...(typeof opts.config === "string" ? { file: opts.config } : {}),
      env: process.env,
      flags,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fleetd: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = stderrLogger(levelForVerbosity(loaded.config.verbosity));
  for (const w of loaded.warnings) log.warn(w);

  const leaseFile = typeof opts.leaseFile === "string" ? opts.leaseFile : LEASE_FILE;
  const previousLease = readLease(leaseFile);
  let fleetd: Fleetd;
  try {
    fleetd = new Fleetd({
      config: loaded.config,
      log,
      ...(previousLease === undefined ? {} : { resumeLeaseId: previousLease }),
    });
    await fleetd.start();
  } catch (err) {
    if (err instanceof FleetdError || err instanceof Error) {
      log.error(`fleetd cannot start: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const lease = fleetd.agent?.leaseId;
  if (lease !== undefined) {
    try {
      mkdirSync(dirname(leaseFile), { recursive: true });
      writeFileSync(leaseFile, `${lease}\n`);
    } catch (err) {
      log.warn("cannot keep the lease for the next fleetd", {
        file: leaseFile,
        error: String(err),
      });
    }
  }

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info("stopping; units keep running", { signal });
      fleetd.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error("error while stopping", { error: String(err) });
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `fleetd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
