import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { loadConfig } from "./load.js";
import { OPTION_NAMES } from "./schema.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function confFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fleet-conf-"));
  dirs.push(dir);
  const path = join(dir, "fleet.conf");
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig defaults", () => {
  const missing = join(tmpdir(), "does-not-exist-fleet.conf");
  it("gives fleet's defaults (but /fleet/ as the v3 key prefix)", () => {
    const { config, warnings } = loadConfig({ env: {}, flags: {} });
    expect(config).toMatchObject({
      verbosity: 0,
      etcd_servers: ["http://127.0.0.1:2379", "http://127.0.0.1:4001"],
      etcd_key_prefix: "/fleet/",
      etcd_request_timeout: 1,
      public_ip: "",
      metadata: {},
      agent_ttl: 30_000,
      engine_reconcile_interval: 2,
      disable_engine: false,
      disable_watches: false,
      token_limit: 100,
      units_directory: "/run/fleet/units/",
      api_listen: ["unix:///var/run/fleet.sock"],
      at_most_once: false,
      machine_id_file: "/etc/machine-id",
    });
    expect(warnings).toEqual([]);
  });
  it("refuses an explicitly named config file that does not exist", () => {
    expect(errorOf(() => loadConfig({ file: missing })).message).toContain(missing);
  });
  it("has a default and a description for every option", async () => {
    const { OPTIONS } = await import("./schema.js");
    for (const name of OPTION_NAMES) expect(OPTIONS[name].description.length).toBeGreaterThan(5);
  });
});

describe("loadConfig precedence: flags > env > file > defaults", () => {
  const file = confFile("agent_ttl=10s\nmetadata=region=file\nverbosity=1\ntoken_limit=7\n");
  it("takes the file over defaults", () => {
    const { config, sources } = loadConfig({ file });
    expect(config.agent_ttl).toBe(10_000);
    expect(config.token_limit).toBe(7);
    expect(sources.agent_ttl).toEqual({ kind: "file", path: file, key: "agent_ttl", line: 1 });
  });
  it("takes FLEET_* over the file", () => {
    const { config, sources } = loadConfig({
      file,
      env: { FLEET_AGENT_TTL: "20s", FLEET_METADATA: "region=env" },
    });
    expect(config.agent_ttl).toBe(20_000);
    expect(config.metadata).toEqual({ region: "env" });
    expect(config.verbosity).toBe(1);
    expect(sources.metadata).toEqual({ kind: "env", variable: "FLEET_METADATA" });
  });
  it("takes flags over everything, with dashes or underscores", () => {
    const { config } = loadConfig({
      file,
      env: { FLEET_AGENT_TTL: "20s" },
      flags: { "agent-ttl": "40s", disable_engine: true, verbosity: undefined },
    });
    expect(config.agent_ttl).toBe(40_000);
    expect(config.disable_engine).toBe(true);
    expect(config.verbosity).toBe(1);
  });
  it("refuses an unknown flag", () => {
    expect(errorOf(() => loadConfig({ flags: { "agent-tll": "1s" } })).message).toMatch(
      /unknown flag --agent-tll/,
    );
  });
});

describe("values", () => {
  it("parses etcd_servers as fleet's StringSlice", () => {
    const a = loadConfig({ env: { FLEET_ETCD_SERVERS: "http://a:2379, https://b:2379" } });
    expect(a.config.etcd_servers).toEqual(["http://a:2379", "https://b:2379"]);
    const b = loadConfig({ env: { FLEET_ETCD_SERVERS: '["http://a:2379", "http://b:2379"]' } });
    expect(b.config.etcd_servers).toEqual(["http://a:2379", "http://b:2379"]);
  });
  it("normalizes the key prefix to end with /", () => {
    expect(loadConfig({ env: { FLEET_ETCD_KEY_PREFIX: "/x" } }).config.etcd_key_prefix).toBe("/x/");
  });
  it("accepts Go booleans", () => {
    for (const t of ["1", "t", "T", "true", "TRUE", "True"]) {
      expect(loadConfig({ env: { FLEET_DISABLE_ENGINE: t } }).config.disable_engine).toBe(true);
    }
    for (const f of ["0", "f", "false", "FALSE"]) {
      expect(loadConfig({ env: { FLEET_DISABLE_ENGINE: f } }).config.disable_engine).toBe(false);
    }
  });
  it("accepts TCP and unix API listeners", () => {
    const { config } = loadConfig({
      env: { FLEET_API_LISTEN: "unix:///run/x.sock,tcp://127.0.0.1:4002,tcp://[::1]:4003" },
    });
    expect(config.api_listen).toEqual([
      "unix:///run/x.sock",
      "tcp://127.0.0.1:4002",
      "tcp://[::1]:4003",
    ]);
  });
  it("warns about options fleet-ts ignores, only when set", () => {
    const { warnings } = loadConfig({
      env: { FLEET_ENABLE_GRPC: "true", FLEET_VERIFY_UNITS: "x" },
    });
    expect(warnings).toEqual([
      "environment variable FLEET_ENABLE_GRPC: enable_grpc is fleet-ts has no gRPC registry",
      "environment variable FLEET_VERIFY_UNITS: verify_units is deprecated in fleet and ignored",
    ]);
  });
});

describe("errors name their source and what is allowed", () => {
  it("names the file, line and key", () => {
    const file = confFile("# fleet\nmetadata=a=b\nagent_ttl=3 0s\n");
    expect(errorOf(() => loadConfig({ file })).message).toBe(
      `invalid configuration: ${file}:3: agent_ttl="3 0s": "3 0s" is not a duration; use a Go-style duration like 30s or 1m`,
    );
  });
  it("names the environment variable", () => {
    expect(errorOf(() => loadConfig({ env: { FLEET_TOKEN_LIMIT: "0" } })).message).toBe(
      'invalid configuration: environment variable FLEET_TOKEN_LIMIT: token_limit="0": "0" is not an integer >= 1',
    );
  });
  it("names the flag", () => {
    expect(errorOf(() => loadConfig({ flags: { "public-ip": "1.2.3" } })).message).toBe(
      'invalid configuration: flag --public-ip: public_ip="1.2.3": "1.2.3" is not an IP address',
    );
  });
  it("reports every problem at once", () => {
    const msg = errorOf(() =>
      loadConfig({
        env: {
          FLEET_ETCD_SERVERS: "ftp://x",
          FLEET_AGENT_TTL: "500ms",
          FLEET_DISABLE_ENGINE: "maybe",
          FLEET_ETCD_REQUEST_TIMEOUT: "-1",
          FLEET_API_LISTEN: "0.0.0.0:80",
          FLEET_UNITS_DIRECTORY: "units",
          FLEET_ETCD_KEY_PREFIX: "fleet",
        },
      }),
    ).message;
    expect(msg.split("\n")).toHaveLength(8);
    expect(msg).toContain('"ftp://x" must use http:// or https://');
    expect(msg).toContain('"500ms" is shorter than 1s');
    expect(msg).toContain('"maybe" is not a boolean; use true or false');
    expect(msg).toContain('"-1" is not a positive number of seconds');
    expect(msg).toContain('"0.0.0.0:80" is not a listen address');
    expect(msg).toContain('"units" must be an absolute path');
    expect(msg).toContain('"fleet" must start with "/"');
  });
});

describe("fleet.conf quirks of the ini format", () => {
  it("warns about unknown keys and sections, with their line", () => {
    const file = confFile("agent_ttl=5s\nbogus=1\n[section]\nx=1\n");
    const { warnings, config } = loadConfig({ file });
    expect(config.agent_ttl).toBe(5000);
    expect(warnings).toEqual([
      `${file}:2: unknown option bogus ignored`,
      `${file}: section [section] ignored: fleet.conf has no sections, write its keys at the top`,
    ]);
  });
  it("keeps quoted values containing ; and #, strips quotes, and reads true as a boolean", () => {
    const file = confFile(
      'etcd_password="se;cr#et"\nmetadata="region=us-east,disk=ssd"\ndisable_engine=true\netcd_username=bob ; comment\n',
    );
    const { config } = loadConfig({ file });
    expect(config.etcd_password).toBe("se;cr#et");
    expect(config.metadata).toEqual({ region: "us-east", disk: "ssd" });
    expect(config.disable_engine).toBe(true);
    expect(config.etcd_username).toBe("bob");
  });
  it("lets the last duplicate key win, as ini does", () => {
    const file = confFile("verbosity=1\nverbosity=2\n");
    const { config, sources } = loadConfig({ file });
    expect(config.verbosity).toBe(2);
    expect(sources.verbosity).toMatchObject({ line: 2 });
  });
  it("accepts CRLF files", () => {
    const { config } = loadConfig({ file: confFile("agent_ttl=7s\r\nverbosity=3\r\n") });
    expect(config.agent_ttl).toBe(7000);
    expect(config.verbosity).toBe(3);
  });
});
