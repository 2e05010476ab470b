/**
 * @module agent/fleetd
 * One fleetd, put together from its configuration: the registry (etcd), the engine (unless
 * `disable_engine`), and the agent driving this machine's systemd. The CLI entry point and the
 * API wrap this; tests and the demo build it directly.
 */
import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { Agent } from "./agent.js";
import { type Api, createApi } from "./api/api.js";
import { activatedFds, type Listener, listen, listenFd, type ServerTls } from "./api/server.js";
import type { FleetConfig } from "./config/schema.js";
import { Engine } from "./engine/engine.js";
import type { Logger } from "./logging/logger.js";
import { Registry } from "./registry/registry.js";
import { SystemdClient } from "./systemd/client.js";
import { UnitFileStore } from "./systemd/unit-files.js";

export const FLEETD_VERSION = "0.1.0";

export class FleetdError extends Error {
  override name = "FleetdError";
}

export interface FleetdOptions {
  readonly config: FleetConfig;
  readonly log: Logger;
  /** systemd's bus (default DBUS_SYSTEM_BUS_ADDRESS or the system bus). */
  readonly busAddress?: string;
  /** Write unit files through this prefix (a host's /proc/<pid>/root when fleetd runs outside it). */
  readonly fsRoot?: string;
  /** This machine's ID, instead of reading `machine_id_file`. */
  readonly machineId?: string;
  /** The lease of a previous fleetd on this machine, to take over. */
  readonly resumeLeaseId?: string;
  /**
   * Prepended to the journalctl/systemctl the API runs for units here, when fleetd runs outside
   * the host it drives (e.g. ["nsenter", "-t", "<host pid>", "-m", "-p"]).
   */
  readonly hostCommandPrefix?: readonly string[];
}

export function readMachineId(path: string): string {
  let id: string;
  try {
    id = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FleetdError(
      `cannot read the machine ID from ${path}: ${(err as Error).message}; set machine_id_file`,
    );
  }
  if (!/^[0-9a-f]{32}$/.test(id)) {
    throw new FleetdError(
      `${path} does not hold a machine ID (32 lowercase hex characters): ${JSON.stringify(id.slice(0, 40))}`,
    );
  }
  return id;
}

/** The first non-internal IPv4 address, as fleet detected public_ip when it was not set. */
export function detectPublicIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "";
}

function readConfigured(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new FleetdError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function etcdOptions(config: FleetConfig) {
  const read = readConfigured;
  if (config.etcd_cafile === "" && (config.etcd_certfile !== "" || config.etcd_keyfile !== "")) {
    // Without a CA the client would not use TLS at all, and the certificate would be ignored.
    throw new FleetdError(
      "etcd_certfile and etcd_keyfile need etcd_cafile (the CA that signed etcd's certificate)",
    );
  }
  return {
    ...(config.etcd_cafile === ""
      ? {}
      : {
          credentials: {
            rootCertificate: read(config.etcd_cafile, "etcd_cafile"),
            ...(config.etcd_keyfile === ""
              ? {}
              : { privateKey: read(config.etcd_keyfile, "etcd_keyfile") }),
            ...(config.etcd_certfile === ""
              ? {}
              : { certChain: read(config.etcd_certfile, "etcd_certfile") }),
          },
        }),
    ...(config.etcd_username === ""
      ? {}
      : { auth: { username: config.etcd_username, password: config.etcd_password } }),
    dialTimeout: config.etcd_request_timeout * 1000,
  };
}

/**
 * TLS of the API's TCP listeners, read at start so that a missing or unreadable file stops
 * fleetd before it touches etcd or systemd. Half a configuration is refused rather than
 * silently served as plain HTTP.
 */
export function apiTls(config: FleetConfig): ServerTls | undefined {
  const { api_tls_cert: cert, api_tls_key: key, api_tls_client_ca: ca } = config;
  if (cert === "" && key === "" && ca === "") return undefined;
  if (cert === "" || key === "") {
    throw new FleetdError(
      ca !== "" && cert === "" && key === ""
        ? "api_tls_client_ca needs api_tls_cert and api_tls_key (client certificates are checked over TLS only)"
        : "api_tls_cert and api_tls_key go together: set both (the certificate and its private key)",
    );
  }
  return {
    cert: readConfigured(cert, "api_tls_cert"),
    key: readConfigured(key, "api_tls_key"),
    ...(ca === "" ? {} : { clientCa: readConfigured(ca, "api_tls_client_ca") }),
  };
}

/**
 * The URL other fleetds reach this one's API at (for journal and status of its units): its
 * first TCP listener, with a wildcard address replaced by the machine's public IP. None without
 * a TCP listener: then the journal of a unit here is served only by this fleetd's own socket.
 */
export function advertisedApiUrl(
  listen: readonly string[],
  publicIP: string,
  tls = false,
): string | undefined {
  for (const address of listen) {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
    if (m === null) continue;
    let host = m[1] as string;
    if (host === "0.0.0.0" || host === "[::]") {
      if (publicIP === "") continue;
      host = publicIP.includes(":") ? `[${publicIP}]` : publicIP;
    }
    return `${tls ? "https" : "http"}://${host}:${m[2]}`;
  }
  return undefined;
}

export class Fleetd {
  readonly registry: Registry;
  readonly engine: Engine | undefined;
  #agent: Agent | undefined;
  #systemd: SystemdClient | undefined;
  readonly #listeners: Listener[] = [];
  #api: Api | undefined;
  readonly machineId: string;
  readonly #apiTls: ServerTls | undefined;

  constructor(private readonly opts: FleetdOptions) {
    const { config, log } = opts;
    this.machineId = opts.machineId ?? readMachineId(config.machine_id_file);
    this.#apiTls = apiTls(config);
    this.registry = new Registry({
      endpoints: config.etcd_servers,
      prefix: config.etcd_key_prefix,
      log,
      etcd: etcdOptions(config),
    });
    this.engine = config.disable_engine
      ? undefined
      : new Engine({
          registry: this.registry,
          machineId: this.machineId,
          ttlSeconds: Math.ceil(config.agent_ttl / 1000),
          reconcileIntervalMs: config.engine_reconcile_interval * 1000,
          log,
        });
  }

  get agent(): Agent | undefined {
    return this.#agent;
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    this.#systemd = await SystemdClient.connect({
      ...(this.opts.busAddress === undefined ? {} : { busAddress: this.opts.busAddress }),
      log,
    });
    const publicIP = config.public_ip === "" ? detectPublicIp() : config.public_ip;
    const apiUrl = advertisedApiUrl(config.api_listen, publicIP, this.#apiTls !== undefined);
    this.#agent = new Agent({
      registry: this.registry,
      systemd: this.#systemd,
      files: new UnitFileStore(this.#systemd, {
        unitsDir: config.units_directory,
        ...(this.opts.fsRoot === undefined ? {} : { fsRoot: this.opts.fsRoot }),
      }),
      machine: {
        id: this.machineId,
        publicIP,
        metadata: config.metadata,
        version: FLEETD_VERSION,
        ...(apiUrl === undefined ? {} : { apiUrl }),
        startedAt: Date.now(),
      },
      ttlSeconds: Math.ceil(config.agent_ttl / 1000),
      log,
      atMostOnce: config.at_most_once,
      ...(this.opts.resumeLeaseId === undefined ? {} : { resumeLeaseId: this.opts.resumeLeaseId }),
    });
    await this.#agent.start();
    this.engine?.start();
    await this.#serveApi();
    log.info("fleetd started", {
      machine: this.machineId,
      engine: this.engine === undefined ? "disabled" : "campaigning",
    });
  }

  /** The API on systemd's socket if handed one (fleet.socket), and on `api_listen`. */
  async #serveApi(): Promise<void> {
    const { config, log } = this.opts;
    const token =
      config.api_token_file === ""
        ? undefined
        : (() => {
            try {
              return readFileSync(config.api_token_file, "utf8").trim();
            } catch (err) {
              throw new FleetdError(
                `cannot read api_token_file ${config.api_token_file}: ${(err as Error).message}`,
              );
            }
          })();
    const api = createApi({
      registry: this.registry,
      tokenLimit: config.token_limit,
      version: FLEETD_VERSION,
      log,
      machineId: this.machineId,
      peerAuth: {
        ...(token === undefined ? {} : { token }),
        // The same certificate proves this fleetd to the others; the client CA checks theirs.
        ...(this.#apiTls === undefined
          ? {}
          : {
              tls: {
                cert: this.#apiTls.cert,
                key: this.#apiTls.key,
                ...(this.#apiTls.clientCa === undefined ? {} : { ca: this.#apiTls.clientCa }),
              },
            }),
      },
      ...(this.opts.hostCommandPrefix === undefined
        ? {}
        : { hostCommandPrefix: this.opts.hostCommandPrefix }),
    });
    this.#api = api;
    const fds = activatedFds();
    for (const fd of fds) {
      this.#listeners.push(
        await listenFd(fd, api.handler, api.upgrade, {
          ...(token === undefined ? {} : { token }),
          insecureTcp: config.api_insecure_tcp,
        }),
      );
    }
    for (const address of config.api_listen) {
      // systemd owns the unix socket when it handed one over.
      if (fds.length > 0 && address.startsWith("unix://")) continue;
      this.#listeners.push(
        await listen(address, api.handler, {
          ...(token === undefined ? {} : { token }),
          insecureTcp: config.api_insecure_tcp,
          upgrade: api.upgrade,
          ...(this.#apiTls === undefined ? {} : { tls: this.#apiTls }),
        }),
      );
    }
    log.info("API listening", { on: this.#listeners.map((l) => l.address).join(",") });
  }

  /**
   * Stops deciding and following, resigns leadership, and leaves every unit running: the
   * machine stays registered until its lease expires, so a fleetd back within agent_ttl takes
   * over (resumeLeaseId) without anything being rescheduled or restarted.
   */
  async stop(): Promise<void> {
    // Open WebSockets would keep the listeners from closing.
    await this.#api?.close();
    for (const l of this.#listeners.splice(0)) await l.close();
    await this.engine?.stop();
    await this.#agent?.stop();
    this.#systemd?.close();
    this.registry.close();
  }
}
