/**
 * @module cloud-config/schema
 * coreos-cloudinit's document, key for key (config/*.go at f1f0405): one table that the
 * validator walks (kinds, `valid` patterns, deprecations, line numbers), that the decoder
 * follows, and that the drop-in writer reads (`env` names, in Go struct field order, which is
 * the order of the `Environment=` lines). The zod schemas come from the same table, so the
 * typed config (`CloudConfig`) cannot drift from what is validated.
 */
import { z } from "zod";

/** Go's reflect kinds that coreos-cloudinit's structs use. */
export type FieldKind = "string" | "int" | "float" | "bool" | "struct" | "slice";

interface FieldOpts {
  /** Environment variable of the drop-in (system/env.go `env` tag). */
  readonly env?: string;
  /** coreos-cloudinit's `valid` tag: a non-zero value must match. */
  readonly valid?: RegExp;
  /** coreos-cloudinit's `deprecated` tag: using the key is a warning with this reason. */
  readonly deprecated?: string;
}

export interface FieldSpec<S extends z.ZodType = z.ZodType> extends FieldOpts {
  readonly kind: FieldKind;
  readonly schema: S;
  /** For structs: the fields, in Go declaration order. */
  readonly fields?: Readonly<Record<string, FieldSpec>>;
  /** For slices: the element. */
  readonly elem?: FieldSpec;
}

const str = (o: FieldOpts = {}) => ({ kind: "string" as const, schema: z.string(), ...o });
const int = (o: FieldOpts = {}) => ({ kind: "int" as const, schema: z.number().int(), ...o });
const float = (o: FieldOpts = {}) => ({ kind: "float" as const, schema: z.number(), ...o });
const bool = (o: FieldOpts = {}) => ({ kind: "bool" as const, schema: z.boolean(), ...o });

function struct<F extends Record<string, FieldSpec>>(fields: F, o: FieldOpts = {}) {
  const shape = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema])) as {
    [K in keyof F]: F[K]["schema"];
  };
  return { kind: "struct" as const, schema: z.strictObject(shape), fields, ...o };
}

/** A Go slice: `null` is nil (key absent or not a list), which the fixtures distinguish from []. */
function slice<S extends z.ZodType>(elem: FieldSpec<S>, o: FieldOpts = {}) {
  return { kind: "slice" as const, schema: z.array(elem.schema).nullable(), elem, ...o };
}

const ETCD2_OPTION = "etcd2 options no longer work for etcd";

export const etcdSpec = struct({
  addr: str({ env: "ETCD_ADDR" }),
  advertise_client_urls: str({ env: "ETCD_ADVERTISE_CLIENT_URLS", deprecated: ETCD2_OPTION }),
  bind_addr: str({ env: "ETCD_BIND_ADDR" }),
  ca_file: str({ env: "ETCD_CA_FILE" }),
  cert_file: str({ env: "ETCD_CERT_FILE" }),
  cluster_active_size: int({ env: "ETCD_CLUSTER_ACTIVE_SIZE" }),
  cluster_remove_delay: float({ env: "ETCD_CLUSTER_REMOVE_DELAY" }),
  cluster_sync_interval: float({ env: "ETCD_CLUSTER_SYNC_INTERVAL" }),
  cors: str({ env: "ETCD_CORS" }),
  data_dir: str({ env: "ETCD_DATA_DIR" }),
  discovery: str({ env: "ETCD_DISCOVERY" }),
  discovery_fallback: str({ env: "ETCD_DISCOVERY_FALLBACK", deprecated: ETCD2_OPTION }),
  discovery_srv: str({ env: "ETCD_DISCOVERY_SRV", deprecated: ETCD2_OPTION }),
  discovery_proxy: str({ env: "ETCD_DISCOVERY_PROXY", deprecated: ETCD2_OPTION }),
  election_timeout: int({ env: "ETCD_ELECTION_TIMEOUT", deprecated: ETCD2_OPTION }),
  force_new_cluster: bool({ env: "ETCD_FORCE_NEW_CLUSTER", deprecated: ETCD2_OPTION }),
  graphite_host: str({ env: "ETCD_GRAPHITE_HOST" }),
  heartbeat_interval: int({ env: "ETCD_HEARTBEAT_INTERVAL", deprecated: ETCD2_OPTION }),
  http_read_timeout: float({ env: "ETCD_HTTP_READ_TIMEOUT" }),
  http_write_timeout: float({ env: "ETCD_HTTP_WRITE_TIMEOUT" }),
  initial_advertise_peer_urls: str({
    env: "ETCD_INITIAL_ADVERTISE_PEER_URLS",
    deprecated: ETCD2_OPTION,
  }),
  initial_cluster: str({ env: "ETCD_INITIAL_CLUSTER", deprecated: ETCD2_OPTION }),
  initial_cluster_state: str({ env: "ETCD_INITIAL_CLUSTER_STATE", deprecated: ETCD2_OPTION }),
  initial_cluster_token: str({ env: "ETCD_INITIAL_CLUSTER_TOKEN", deprecated: ETCD2_OPTION }),
  key_file: str({ env: "ETCD_KEY_FILE" }),
  listen_client_urls: str({ env: "ETCD_LISTEN_CLIENT_URLS", deprecated: ETCD2_OPTION }),
  listen_peer_urls: str({ env: "ETCD_LISTEN_PEER_URLS", deprecated: ETCD2_OPTION }),
  max_result_buffer: int({ env: "ETCD_MAX_RESULT_BUFFER" }),
  max_retry_attempts: int({ env: "ETCD_MAX_RETRY_ATTEMPTS" }),
  max_snapshots: int({ env: "ETCD_MAX_SNAPSHOTS", deprecated: ETCD2_OPTION }),
  max_wals: int({ env: "ETCD_MAX_WALS", deprecated: ETCD2_OPTION }),
  name: str({ env: "ETCD_NAME" }),
  peer_addr: str({ env: "ETCD_PEER_ADDR" }),
  peer_bind_addr: str({ env: "ETCD_PEER_BIND_ADDR" }),
  peer_ca_file: str({ env: "ETCD_PEER_CA_FILE" }),
  peer_cert_file: str({ env: "ETCD_PEER_CERT_FILE" }),
  peer_election_timeout: int({ env: "ETCD_PEER_ELECTION_TIMEOUT" }),
  peer_heartbeat_interval: int({ env: "ETCD_PEER_HEARTBEAT_INTERVAL" }),
  peer_key_file: str({ env: "ETCD_PEER_KEY_FILE" }),
  peers: str({ env: "ETCD_PEERS" }),
  peers_file: str({ env: "ETCD_PEERS_FILE" }),
  proxy: str({ env: "ETCD_PROXY", deprecated: ETCD2_OPTION }),
  retry_interval: float({ env: "ETCD_RETRY_INTERVAL" }),
  snapshot: bool({ env: "ETCD_SNAPSHOT" }),
  snapshot_count: int({ env: "ETCD_SNAPSHOTCOUNT" }),
  trace: str({ env: "ETCD_TRACE" }),
  verbose: bool({ env: "ETCD_VERBOSE" }),
  very_verbose: bool({ env: "ETCD_VERY_VERBOSE" }),
  very_very_verbose: bool({ env: "ETCD_VERY_VERY_VERBOSE" }),
});

export const etcd2Spec = struct({
  advertise_client_urls: str({ env: "ETCD_ADVERTISE_CLIENT_URLS" }),
  ca_file: str({
    env: "ETCD_CA_FILE",
    deprecated: "ca_file obsoleted by trusted_ca_file and client_cert_auth",
  }),
  cert_file: str({ env: "ETCD_CERT_FILE" }),
  client_cert_auth: bool({ env: "ETCD_CLIENT_CERT_AUTH" }),
  cors: str({ env: "ETCD_CORS" }),
  data_dir: str({ env: "ETCD_DATA_DIR" }),
  debug: bool({ env: "ETCD_DEBUG" }),
  discovery: str({ env: "ETCD_DISCOVERY" }),
  discovery_fallback: str({ env: "ETCD_DISCOVERY_FALLBACK" }),
  discovery_srv: str({ env: "ETCD_DISCOVERY_SRV" }),
  discovery_proxy: str({ env: "ETCD_DISCOVERY_PROXY" }),
  election_timeout: int({ env: "ETCD_ELECTION_TIMEOUT" }),
  enable_pprof: bool({ env: "ETCD_ENABLE_PPROF" }),
  force_new_cluster: bool({ env: "ETCD_FORCE_NEW_CLUSTER" }),
  heartbeat_interval: int({ env: "ETCD_HEARTBEAT_INTERVAL" }),
  initial_advertise_peer_urls: str({ env: "ETCD_INITIAL_ADVERTISE_PEER_URLS" }),
  initial_cluster: str({ env: "ETCD_INITIAL_CLUSTER" }),
  initial_cluster_state: str({ env: "ETCD_INITIAL_CLUSTER_STATE" }),
  initial_cluster_token: str({ env: "ETCD_INITIAL_CLUSTER_TOKEN" }),
  key_file: str({ env: "ETCD_KEY_FILE" }),
  listen_client_urls: str({ env: "ETCD_LISTEN_CLIENT_URLS" }),
  listen_peer_urls: str({ env: "ETCD_LISTEN_PEER_URLS" }),
  log_package_levels: str({ env: "ETCD_LOG_PACKAGE_LEVELS" }),
  max_snapshots: int({ env: "ETCD_MAX_SNAPSHOTS" }),
  max_wals: int({ env: "ETCD_MAX_WALS" }),
  name: str({ env: "ETCD_NAME" }),
  peer_ca_file: str({
    env: "ETCD_PEER_CA_FILE",
    deprecated: "peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth",
  }),
  peer_cert_file: str({ env: "ETCD_PEER_CERT_FILE" }),
  peer_key_file: str({ env: "ETCD_PEER_KEY_FILE" }),
  peer_client_cert_auth: bool({ env: "ETCD_PEER_CLIENT_CERT_AUTH" }),
  peer_trusted_ca_file: str({ env: "ETCD_PEER_TRUSTED_CA_FILE" }),
  proxy: str({ env: "ETCD_PROXY", valid: /^(on|off|readonly)$/ }),
  proxy_dial_timeout: int({ env: "ETCD_PROXY_DIAL_TIMEOUT" }),
  proxy_failure_wait: int({ env: "ETCD_PROXY_FAILURE_WAIT" }),
  proxy_read_timeout: int({ env: "ETCD_PROXY_READ_TIMEOUT" }),
  proxy_refresh_interval: int({ env: "ETCD_PROXY_REFRESH_INTERVAL" }),
  proxy_write_timeout: int({ env: "ETCD_PROXY_WRITE_TIMEOUT" }),
  snapshot_count: int({ env: "ETCD_SNAPSHOT_COUNT" }),
  strict_reconfig_check: bool({ env: "ETCD_STRICT_RECONFIG_CHECK" }),
  trusted_ca_file: str({ env: "ETCD_TRUSTED_CA_FILE" }),
  wal_dir: str({ env: "ETCD_WAL_DIR" }),
});

export const flannelSpec = struct({
  etcd_endpoints: str({ env: "FLANNELD_ETCD_ENDPOINTS" }),
  etcd_cafile: str({ env: "FLANNELD_ETCD_CAFILE" }),
  etcd_certfile: str({ env: "FLANNELD_ETCD_CERTFILE" }),
  etcd_keyfile: str({ env: "FLANNELD_ETCD_KEYFILE" }),
  etcd_prefix: str({ env: "FLANNELD_ETCD_PREFIX" }),
  etcd_username: str({ env: "FLANNELD_ETCD_USERNAME" }),
  etcd_password: str({ env: "FLANNELD_ETCD_PASSWORD" }),
  ip_masq: str({ env: "FLANNELD_IP_MASQ" }),
  subnet_file: str({ env: "FLANNELD_SUBNET_FILE" }),
  interface: str({ env: "FLANNELD_IFACE" }),
  public_ip: str({ env: "FLANNELD_PUBLIC_IP" }),
});

/** Every fleet option fleetd reads from FLEET_* (agent/config), in coreos-cloudinit's order. */
export const fleetSpec = struct({
  agent_ttl: str({ env: "FLEET_AGENT_TTL" }),
  authorized_keys_file: str({ env: "FLEET_AUTHORIZED_KEYS_FILE" }),
  disable_engine: bool({ env: "FLEET_DISABLE_ENGINE" }),
  engine_reconcile_interval: float({ env: "FLEET_ENGINE_RECONCILE_INTERVAL" }),
  etcd_cafile: str({ env: "FLEET_ETCD_CAFILE" }),
  etcd_certfile: str({ env: "FLEET_ETCD_CERTFILE" }),
  etcd_keyfile: str({ env: "FLEET_ETCD_KEYFILE" }),
  etcd_key_prefix: str({ env: "FLEET_ETCD_KEY_PREFIX" }),
  etcd_request_timeout: float({ env: "FLEET_ETCD_REQUEST_TIMEOUT" }),
  etcd_servers: str({ env: "FLEET_ETCD_SERVERS" }),
  etcd_username: str({ env: "FLEET_ETCD_USERNAME" }),
  etcd_password: str({ env: "FLEET_ETCD_PASSWORD" }),
  metadata: str({ env: "FLEET_METADATA" }),
  public_ip: str({ env: "FLEET_PUBLIC_IP" }),
  token_limit: int({ env: "FLEET_TOKEN_LIMIT" }),
  verbosity: int({ env: "FLEET_VERBOSITY" }),
  verify_units: bool({ env: "FLEET_VERIFY_UNITS" }),
});

export const locksmithSpec = struct({
  endpoint: str({ env: "LOCKSMITHD_ENDPOINT" }),
  etcd_cafile: str({ env: "LOCKSMITHD_ETCD_CAFILE" }),
  etcd_certfile: str({ env: "LOCKSMITHD_ETCD_CERTFILE" }),
  etcd_keyfile: str({ env: "LOCKSMITHD_ETCD_KEYFILE" }),
  etcd_username: str({ env: "LOCKSMITHD_ETCD_USERNAME" }),
  etcd_password: str({ env: "LOCKSMITHD_ETCD_PASSWORD" }),
  group: str({ env: "LOCKSMITHD_GROUP" }),
  window_start: str({
    env: "REBOOT_WINDOW_START",
    valid:
      /^((sun|mon|tue|wed|thu|fri|sat|sun|SUN|MON|TUE|WED|THU|FRI|SAT|Sun|Mon|Tue|Wed|Thu|Fri|Sat) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$/,
  }),
  window_length: str({ env: "REBOOT_WINDOW_LENGTH", valid: /^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$/ }),
});

export const oemSpec = struct({
  id: str(),
  name: str(),
  version_id: str(),
  home_url: str(),
  bug_report_url: str(),
});

export const updateSpec = struct({
  reboot_strategy: str({ env: "REBOOT_STRATEGY", valid: /^(etcd-lock|reboot|off)$/ }),
  group: str({ env: "GROUP" }),
  server: str({ env: "SERVER" }),
});

export const UNIT_COMMANDS = [
  "start",
  "stop",
  "restart",
  "reload",
  "try-restart",
  "reload-or-restart",
  "reload-or-try-restart",
] as const;
export type UnitCommand = (typeof UNIT_COMMANDS)[number];

export const dropInSpec = struct({ name: str(), content: str() });

export const unitSpec = struct({
  name: str(),
  mask: bool(),
  enable: bool(),
  runtime: bool(),
  content: str(),
  command: str({ valid: new RegExp(`^(${UNIT_COMMANDS.join("|")})$`) }),
  drop_ins: slice(dropInSpec),
});

export const coreosSpec = struct({
  etcd: etcdSpec,
  etcd2: etcd2Spec,
  flannel: flannelSpec,
  fleet: fleetSpec,
  locksmith: locksmithSpec,
  oem: oemSpec,
  update: updateSpec,
  units: slice(unitSpec),
});

export const ENCODINGS = [
  "base64",
  "b64",
  "gz",
  "gzip",
  "gz+base64",
  "gzip+base64",
  "gz+b64",
  "gzip+b64",
] as const;

export const fileSpec = struct({
  encoding: str({ valid: /^(base64|b64|gz|gzip|gz\+base64|gzip\+base64|gz\+b64|gzip\+b64)$/ }),
  content: str(),
  owner: str(),
  path: str(),
  permissions: str({ valid: /^0?[0-7]{3,4}$/ }),
});

const REMOTE_KEYS =
  "trying to fetch from a remote endpoint introduces too many intermittent errors";

export const userSpec = struct({
  name: str(),
  passwd: str(),
  ssh_authorized_keys: slice(str()),
  coreos_ssh_import_github: str({ deprecated: REMOTE_KEYS }),
  coreos_ssh_import_github_users: slice(str(), { deprecated: REMOTE_KEYS }),
  coreos_ssh_import_url: str({ deprecated: REMOTE_KEYS }),
  gecos: str(),
  homedir: str(),
  no_create_home: bool(),
  primary_group: str(),
  groups: slice(str()),
  no_user_group: bool(),
  system: bool(),
  no_log_init: bool(),
  shell: str(),
});

export const cloudConfigSpec = struct({
  ssh_authorized_keys: slice(str()),
  coreos: coreosSpec,
  write_files: slice(fileSpec),
  hostname: str(),
  users: slice(userSpec),
  manage_etc_hosts: str(),
});

export type CloudConfig = z.infer<typeof cloudConfigSpec.schema>;
export type FleetOptions = z.infer<typeof fleetSpec.schema>;
export type Etcd2Options = z.infer<typeof etcd2Spec.schema>;
export type UnitConfig = z.infer<typeof unitSpec.schema>;
export type DropInConfig = z.infer<typeof dropInSpec.schema>;
export type WriteFileConfig = z.infer<typeof fileSpec.schema>;
export type UserConfig = z.infer<typeof userSpec.schema>;

/** The Go zero value of a field: what coreos-cloudinit has for an absent or mistyped key. */
export function zeroValue(spec: FieldSpec): unknown {
  switch (spec.kind) {
    case "string":
      return "";
    case "int":
    case "float":
      return 0;
    case "bool":
      return false;
    case "slice":
      return null;
    case "struct":
      return Object.fromEntries(
        Object.entries(spec.fields ?? {}).map(([k, f]) => [k, zeroValue(f)]),
      );
  }
}

/** What the validator calls the type, as coreos-cloudinit prints it ("[]struct", "bool"). */
export function humanType(spec: FieldSpec): string {
  if (spec.kind === "slice") return `[]${spec.elem ? humanType(spec.elem) : "interface"}`;
  return spec.kind === "float" ? "float64" : spec.kind;
}
