/**
 * @module agent/config/load
 * Builds fleetd's configuration from its four sources, highest first: flags, `FLEET_*`
 * environment variables, `/etc/fleet/fleet.conf`, defaults. Every value is validated by its
 * option's schema (schema.ts); all problems are reported at once, each naming its source.
 */
import { readFileSync } from "node:fs";
import { parse as parseIni } from "ini";
import { ConfigError, type ConfigSource, describeSource } from "./errors.js";
import { type FleetConfig, OPTION_NAMES, OPTIONS, type OptionName } from "./schema.js";

export const DEFAULT_CONFIG_FILE = "/etc/fleet/fleet.conf";

export interface LoadConfigInput {
  /** A config file named by the operator (--config): it must exist. Default: fleet.conf, optional. */
  readonly file?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by option name; `etcd-servers` and `etcd_servers` are the same flag. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
}

export interface LoadedConfig {
  readonly config: FleetConfig;
  /** Things fleetd accepted but the operator should know (unknown keys, ignored options). */
  readonly warnings: readonly string[];
  /** Where each option's value came from, for `fleetd --print-config` and error messages. */
  readonly sources: Readonly<Record<OptionName, ConfigSource>>;
}

interface RawValue {
  readonly value: string | boolean;
  readonly source: ConfigSource;
}

export function envVariableFor(name: OptionName): string {
  return `FLEET_${name.toUpperCase()}`;
}

export function loadConfig(input: LoadConfigInput = {}): LoadedConfig {
  const warnings: string[] = [];
  const fromFile = readConfigFile(input.file, warnings);
  const fromFlags = normalizeFlags(input.flags ?? {});
  const env = input.env ?? {};

  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  const sources = {} as Record<OptionName, ConfigSource>;
  for (const name of OPTION_NAMES) {
    const spec = OPTIONS[name];
    const envValue = env[envVariableFor(name)];
    const chosen: RawValue = fromFlags.get(name) ??
      (envValue !== undefined
        ? { value: envValue, source: { kind: "env", variable: envVariableFor(name) } }
        : undefined) ??
      fromFile.get(name) ?? { value: spec.default, source: { kind: "default" } };
    sources[name] = chosen.source;
    const result = spec.schema.safeParse(chosen.value);
    if (!result.success) {
      const why = result.error.issues.map((i) => i.message).join("; ");
      problems.push(
        `${describeSource(chosen.source)}: ${name}=${JSON.stringify(chosen.value)}: ${why}`,
      );
      continue;
    }
    values[name] = result.data;
    if (
      spec.ignored !== undefined &&
      chosen.source.kind !== "default" &&
      String(chosen.value) !== spec.default
    ) {
      warnings.push(`${describeSource(chosen.source)}: ${name} is ${spec.ignored}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n  ${problems.join("\n  ")}`,
    );
  }
  const config = values as FleetConfig;
  if (config.systemd_user) {
    warnings.push(
      "systemd_user=true is not supported: fleet-ts drives the system instance of systemd",
    );
  }
  return { config, warnings, sources };
}

function normalizeFlags(
  flags: Readonly<Record<string, string | boolean | undefined>>,
): Map<OptionName, RawValue> {
  const out = new Map<OptionName, RawValue>();
  for (const [flag, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const name = flag.replace(/-/g, "_");
    if (!isOptionName(name)) {
      throw new ConfigError(`unknown flag --${flag}; see fleetd --help for the options`, {
        kind: "flag",
        flag,
      });
    }
    out.set(name, { value, source: { kind: "flag", flag } });
  }
  return out;
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

function readConfigFile(
  explicit: string | undefined,
  warnings: string[],
): Map<OptionName, RawValue> {
  const path = explicit ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (explicit === undefined && code === "ENOENT") return new Map();
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, warnings);
}

/**
 * fleet.conf is INI with global keys only. `ini` cuts unquoted values at `;` and `#` and
 * turns true/false into booleans; quote a value that contains `;` or `#`.
 */
export function parseConfigText(
  text: string,
  path: string,
  warnings: string[],
): Map<OptionName, RawValue> {
  const lines = text.split(/\r?\n/);
  const lineOf = (key: string): number | undefined => {
    let found: number | undefined;
    const re = new RegExp(`^\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*=`);
    lines.forEach((l, i) => {
      if (re.test(l)) found = i + 1; // ini keeps the last duplicate; so do we
    });
    return found;
  };
  const out = new Map<OptionName, RawValue>();
  for (const [key, value] of Object.entries(parseIni(text))) {
    const line = lineOf(key);
    const where = line === undefined ? path : `${path}:${line}`;
    if (typeof value === "object" && value !== null) {
      warnings.push(
        `${path}: section [${key}] ignored: fleet.conf has no sections, write its keys at the top`,
      );
      continue;
    }
    if (!isOptionName(key)) {
      warnings.push(`${where}: unknown option ${key} ignored`);
      continue;
    }
    const raw = value === null ? "" : (value as string | boolean);
    out.set(key, {
      value: raw,
      source: line === undefined ? { kind: "file", path, key } : { kind: "file", path, key, line },
    });
  }
  return out;
}
