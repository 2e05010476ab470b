/**
 * @module agent/config/schema
 * Every fleetd option: fleet's own (same names, same defaults but one) and fleet-ts's
 * additions. Each option is a zod schema that takes the raw text an operator wrote (in
 * fleet.conf, a FLEET_* variable or a flag) and yields the typed value, so the type of the
 * whole configuration is `z.output` of one object schema and every rule lives here.
 */
import { z } from "zod";
import { parseGoDuration } from "./duration.js";
import { parseMetadata } from "./metadata.js";

/** Raw input: text from a file or environment, or a boolean from a flag or `ini`. */
const raw = z.union([z.string(), z.boolean()]).transform((v) => String(v).trim());

/** Go's strconv.ParseBool, which fleet's flag package used. */
const bool = raw.transform((s, ctx) => {
  if (/^(1|t|true)$/i.test(s)) return true;
  if (/^(0|f|false)$/i.test(s)) return false;
  ctx.addIssue({ code: "custom", message: `"${s}" is not a boolean; use true or false` });
  return z.NEVER;
});

const text = raw;

function integer(min: number) {
  return raw.transform((s, ctx) => {
    if (!/^[+-]?\d+$/.test(s) || Number(s) < min) {
      ctx.addIssue({ code: "custom", message: `"${s}" is not an integer >= ${min}` });
      return z.NEVER;
    }
    return Number(s);
  });
}

/** Seconds as a decimal number, as fleet's float64 options (etcd_request_timeout). */
const positiveSeconds = raw.transform((s, ctx) => {
  const n = Number(s);
  if (s === "" || !Number.isFinite(n) || n <= 0) {
    ctx.addIssue({
      code: "custom",
      message: `"${s}" is not a positive number of seconds, e.g. 1.5`,
    });
    return z.NEVER;
  }
  return n;
});

/** A Go duration ("30s", "1m30s") in milliseconds; etcd leases count whole seconds. */
const ttl = raw.transform((s, ctx) => {
  const ms = parseGoDuration(s);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `"${s}" is not a duration; use a Go-style duration like 30s or 1m`,
    });
    return z.NEVER;
  }
  if (ms < 1000) {
    ctx.addIssue({ code: "custom", message: `"${s}" is shorter than 1s, the shortest etcd lease` });
    return z.NEVER;
  }
  return ms;
});

/** fleet's pkg/flag.go StringSlice: "a,b" or `["a", "b"]`, each element trimmed of ` ["`. */
function list(check: (item: string) => string | undefined) {
  return raw.transform((s, ctx) => {
    const items = s
      .split(",")
      .map((item) => item.trim().replace(/^[\s["]+|[\s\]"]+$/g, ""))
      .filter((item) => item !== "");
    for (const item of items) {
      const problem = check(item);
      if (problem !== undefined) {
        ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      }
    }
    return items;
  });
}

function etcdUrl(item: string): string | undefined {
  let url: URL;
  try {
    url = new URL(item);
  } catch {
    return `"${item}" is not a URL; use http://host:port or https://host:port`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `"${item}" must use http:// or https://`;
  }
  return undefined;
}

function listenAddress(item: string): string | undefined {
  if (/^unix:\/\/\/.+/.test(item)) return undefined;
  if (/^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/]+):\d{1,5}$/.test(item)) return undefined;
  return `"${item}" is not a listen address; use unix:///path/to.sock or tcp://host:port`;
}

const keyPrefix = raw.transform((s, ctx) => {
  if (!s.startsWith("/")) {
    ctx.addIssue({ code: "custom", message: `"${s}" must start with "/", e.g. /fleet/` });
    return z.NEVER;
  }
  return s.endsWith("/") ? s : `${s}/`;
});

const ipAddress = raw.transform((s, ctx) => {
  if (s !== "" && !z.union([z.ipv4(), z.ipv6()]).safeParse(s).success) {
    ctx.addIssue({ code: "custom", message: `"${s}" is not an IP address` });
    return z.NEVER;
  }
  return s;
});

const absolutePath = raw.transform((s, ctx) => {
  if (s !== "" && !s.startsWith("/")) {
    ctx.addIssue({ code: "custom", message: `"${s}" must be an absolute path` });
    return z.NEVER;
  }
  return s;
});

const metadata = raw.transform((s) => parseMetadata(s));

interface OptionSpec {
  readonly schema: z.ZodType<unknown, string | boolean>;
  readonly default: string;
  readonly description: string;
  /** Accepted for compatibility with fleet.conf files, then ignored (with a warning). */
  readonly ignored?: string;
}

function option<T>(
  schema: z.ZodType<T, string | boolean>,
  def: string,
  description: string,
  ignored?: string,
): OptionSpec & { readonly schema: z.ZodType<T, string | boolean> } {
  return ignored === undefined
    ? { schema, default: def, description }
    : { schema, default: def, description, ignored };
}

/** All options, in the order docs and `fleetd --help` show them. */
export const OPTIONS = {
  verbosity: option(integer(0), "0", "Log verbosity: 0 info, 1 debug, 2+ trace."),
  etcd_servers: option(
    list(etcdUrl),
    "http://127.0.0.1:2379,http://127.0.0.1:4001",
    "etcd endpoints, comma separated.",
  ),
  etcd_key_prefix: option(keyPrefix, "/fleet/", "Prefix of every key fleet-ts keeps in etcd."),
  etcd_cafile: option(absolutePath, "", "CA bundle to verify etcd's TLS certificate."),
  etcd_certfile: option(absolutePath, "", "Client certificate for etcd TLS."),
  etcd_keyfile: option(absolutePath, "", "Client key for etcd TLS."),
  etcd_username: option(text, "", "etcd user name (etcd authentication)."),
  etcd_password: option(text, "", "etcd password (etcd authentication)."),
  etcd_request_timeout: option(positiveSeconds, "1.0", "Seconds before an etcd request fails."),
  public_ip: option(ipAddress, "", "IP address shown for this machine; detected when empty."),
  metadata: option(metadata, "", "Machine metadata, e.g. region=us-east,disk=ssd."),
  agent_ttl: option(ttl, "30s", "TTL of this machine's presence in etcd (Go duration)."),
  engine_reconcile_interval: option(
    positiveSeconds,
    "2",
    "Seconds between the engine's safety-net passes (it also reacts to every change at once).",
  ),
  disable_engine: option(bool, "false", "Never take part in leader election or schedule units."),
  disable_watches: option(bool, "false", "Poll etcd instead of watching it (not recommended)."),
  token_limit: option(integer(1), "100", "Largest page size the API returns."),
  units_directory: option(
    absolutePath,
    "/run/fleet/units/",
    "Where the agent writes the unit files systemd runs.",
  ),
  systemd_user: option(
    bool,
    "false",
    "Use the systemd user instance (not supported: fleet-ts drives the system instance).",
  ),
  enable_grpc: option(
    bool,
    "false",
    "fleet's experimental gRPC registry.",
    "fleet-ts has no gRPC registry",
  ),
  verify_units: option(text, "", "Deprecated in fleet.", "deprecated in fleet and ignored"),
  authorized_keys_file: option(text, "", "Deprecated in fleet.", "deprecated in fleet and ignored"),
  api_listen: option(
    list(listenAddress),
    "unix:///var/run/fleet.sock",
    "Where the HTTP API listens: unix:///path and/or tcp://host:port, comma separated.",
  ),
  api_token_file: option(absolutePath, "", "File with the bearer token required on TCP listeners."),
  api_insecure_tcp: option(
    bool,
    "false",
    "Serve TCP listeners without a token or TLS client certificates.",
  ),
  api_tls_cert: option(absolutePath, "", "TLS certificate for TCP listeners."),
  api_tls_key: option(absolutePath, "", "TLS key for TCP listeners."),
  api_tls_client_ca: option(absolutePath, "", "CA that TCP clients' certificates must chain to."),
  at_most_once: option(
    bool,
    "false",
    "When cut off from etcd, stop non-global units before the lease can expire, so no unit ever runs twice.",
  ),
  machine_id_file: option(absolutePath, "/etc/machine-id", "File holding this machine's ID."),
} as const;

export type OptionName = keyof typeof OPTIONS;

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The whole configuration: each option's zod schema, applied to its raw text. */
export const configSchema = z.object(
  Object.fromEntries(OPTION_NAMES.map((n) => [n, OPTIONS[n].schema])) as {
    [K in OptionName]: (typeof OPTIONS)[K]["schema"];
  },
);

export type FleetConfig = z.output<typeof configSchema>;
