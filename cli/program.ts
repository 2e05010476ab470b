/**
 * @module cli/program
 * fleetctl's command line: fleet's global flags (each also read from FLEETCTL_<FLAG>, as
 * fleet's getFlagsFromEnv did), fleet's commands, and fleet-ts's additions. `runFleetctl`
 * runs one invocation against any Io, so tests call it in-process and compare bytes.
 *
 * Exit codes: 0 success; 1 the command failed (fleet's); 2 usage error (bad flag, unknown
 * command: fleet exited 0 there) and fleet's deprecated verify/--sign; status passes
 * systemctl's code through (3: unit not active). docs/cli.md lists them.
 */
import { Command, CommanderError, Option } from "commander";
import { ApiClient } from "./api-client.js";
import type { Register } from "./command-kit.js";
import { registerCat } from "./commands/cat.js";
import { registerDestroy } from "./commands/destroy.js";
import { registerDrain, registerUndrain } from "./commands/drain.js";
import { registerJournal } from "./commands/journal.js";
import { registerListMachines } from "./commands/list-machines.js";
import { registerListUnitFiles } from "./commands/list-unit-files.js";
import { registerListUnits } from "./commands/list-units.js";
import { registerLoad } from "./commands/load.js";
import { registerRestart } from "./commands/restart.js";
import { registerStart } from "./commands/start.js";
import { registerStatus } from "./commands/status.js";
import { registerStop } from "./commands/stop.js";
import { registerSubmit } from "./commands/submit.js";
import { registerUnload } from "./commands/unload.js";
import { FLEETCTL_VERSION, registerVerify, registerVersion } from "./commands/version.js";
import { type Context, FLEET_PACE, type Io, line, type Pace } from "./context.js";
import { DEFAULT_ENDPOINT, resolveEndpoint } from "./endpoint.js";
import { EndpointError } from "./errors.js";

const COMMANDS: readonly Register[] = [
  registerCat,
  registerDestroy,
  registerDrain,
  registerJournal,
  registerListMachines,
  registerListUnitFiles,
  registerListUnits,
  registerLoad,
  registerRestart,
  registerStart,
  registerStatus,
  registerStop,
  registerSubmit,
  registerUndrain,
  registerUnload,
  registerVerify,
  registerVersion,
];

/** Global flags that only made sense for fleet's SSH and etcd drivers: accepted, unused. */
const IGNORED: readonly [string, string][] = [
  ["--etcd-key-prefix <prefix>", "Ignored: fleetctl talks only to the API"],
  ["--experimental-api [bool]", "DEPRECATED: do not use this flag."],
  ["--known-hosts-file <file>", "Ignored: fleet-ts needs no SSH"],
  ["--strict-host-key-checking [bool]", "Ignored: fleet-ts needs no SSH"],
  ["--ssh-timeout <seconds>", "Ignored: fleet-ts needs no SSH"],
  ["--ssh-username <name>", "Ignored: fleet-ts needs no SSH"],
];

interface GlobalOpts {
  endpoint: string;
  requestTimeout: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  tokenFile?: string;
  driver: string;
  tunnel?: string;
  version?: boolean;
}

/** FLEETCTL_<FLAG> for a flag not given on the command line (fleet's getFlagsFromEnv). */
function fromEnv(
  program: Command,
  io: Io,
  key: keyof GlobalOpts,
  flag: string,
): string | undefined {
  const given = program.getOptionValueSource(key) === "cli";
  const value = program.opts<GlobalOpts>()[key];
  if (given) return value === undefined ? undefined : String(value);
  const env = io.env[`FLEETCTL_${flag.toUpperCase().replace(/-/g, "_")}`];
  if (env !== undefined && env !== "") return env;
  return value === undefined ? undefined : String(value);
}

function makeApi(program: Command, io: Io, pace: Pace): ApiClient {
  const get = (key: keyof GlobalOpts, flag: string) => fromEnv(program, io, key, flag);
  const driver = get("driver", "driver") ?? "API";
  if (driver !== "API") {
    throw new EndpointError(
      `--driver=${driver} is not supported: fleet-ts's fleetctl talks only to the fleet API (--driver=API)`,
    );
  }
  if (get("tunnel", "tunnel")) {
    throw new EndpointError(
      "--tunnel is not supported: reach the API over TCP (--endpoint=https://host:port with --token-file) instead of SSH",
    );
  }
  const timeout = Number(get("requestTimeout", "request-timeout") ?? "3");
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new EndpointError(
      `--request-timeout must be a positive number of seconds, got ${JSON.stringify(get("requestTimeout", "request-timeout"))}`,
    );
  }
  const endpoint = resolveEndpoint(
    {
      endpoint: get("endpoint", "endpoint") ?? DEFAULT_ENDPOINT,
      caFile: get("caFile", "ca-file") ?? get("etcdCafile", "etcd-cafile"),
      certFile: get("certFile", "cert-file") ?? get("etcdCertfile", "etcd-certfile"),
      keyFile: get("keyFile", "key-file") ?? get("etcdKeyfile", "etcd-keyfile"),
      tokenFile: get("tokenFile", "token-file"),
    },
    (msg) => io.stderr(line(`WARNING: ${msg}`)),
  );
  return new ApiClient({
    endpoint,
    timeoutMs: Math.round(timeout * 1000),
    silenceMs: pace.silenceMs,
  });
}

/** fleet accepted `--l` as a long flag; so do we (as -l). */
function normalizeArgs(argv: readonly string[]): string[] {
  return argv.map((a) => (a === "--l" ? "-l" : a));
}

/** Runs one fleetctl invocation; resolves to its exit code. */
export async function runFleetctl(
  argv: readonly string[],
  io: Io,
  pace: Pace = FLEET_PACE,
): Promise<number> {
  let exit = 0;
  let api: ApiClient | undefined;
  const program = new Command("fleetctl");
  const ctx: Context = {
    io,
    pace,
    api: () => {
      api ??= makeApi(program, io, pace);
      return api;
    },
  };
  const runner = {
    ctx,
    setExit: (code: number) => {
      exit = code;
    },
  };
  program
    .description(
      "fleetctl is a command-line interface to fleet, the cluster-wide CoreOS init system.",
    )
    .usage("[options] [command]")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
    })
    .showSuggestionAfterError(true)
    .option(
      "--endpoint <url>",
      "Location of the fleet API: unix:///path, http://host:port or https://host:port (env FLEETCTL_ENDPOINT)",
      DEFAULT_ENDPOINT,
    )
    .option(
      "--request-timeout <seconds>",
      "Amount of time in seconds to allow a single request before considering it failed.",
      "3",
    )
    .option(
      "--ca-file <file>",
      "Location of TLS CA file used to secure communication with the fleet API",
    )
    .option(
      "--cert-file <file>",
      "Location of TLS cert file used to secure communication with the fleet API",
    )
    .option(
      "--key-file <file>",
      "Location of TLS key file used to secure communication with the fleet API",
    )
    .option(
      "--token-file <file>",
      "File holding the bearer token of fleetd's TCP API (env FLEETCTL_TOKEN_FILE)",
    )
    .option("--driver <driver>", 'Adapter used to execute fleetctl commands: only "API"', "API")
    .option("--tunnel <address>", "Not supported (fleet's SSH tunnel)")
    .option("--debug", "Print out more debug information to stderr")
    .option("-v, --version", "Print the version and exit")
    .addOption(new Option("--etcd-cafile <file>").hideHelp())
    .addOption(new Option("--etcd-certfile <file>").hideHelp())
    .addOption(new Option("--etcd-keyfile <file>").hideHelp())
    .addOption(new Option("--h").hideHelp());
  for (const [flags, description] of IGNORED)
    program.addOption(new Option(flags, description).hideHelp());
  program.argument("[command]").action((command: string | undefined) => {
    if (command !== undefined) {
      io.stderr(
        `Error: unknown command ${JSON.stringify(command)} for "fleetctl"\nRun 'fleetctl --help' for usage.\n`,
      );
      exit = 2;
    } else if (program.opts<GlobalOpts>().version) {
      io.stdout(line(`fleetctl version ${FLEETCTL_VERSION}`));
    } else program.outputHelp();
  });
  program.helpCommand(true);
  for (const register of COMMANDS) register(program, runner);
  try {
    await program.parseAsync(normalizeArgs(argv), { from: "user" });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === "commander.helpDisplayed" || err.code === "commander.help") return 0;
    if (err.code === "commander.version") return 0;
    return 2;
  }
  return exit;
}
