/**
 * @module agent/config/errors
 * A configuration value that fleetd cannot use. The message names where the value came from
 * (file and key with its line, environment variable, or flag) and what is allowed, so the
 * operator can fix it without reading our source.
 */

/** Where one configuration value came from. */
export type ConfigSource =
  | { readonly kind: "default" }
  | { readonly kind: "file"; readonly path: string; readonly key: string; readonly line?: number }
  | { readonly kind: "env"; readonly variable: string }
  | { readonly kind: "flag"; readonly flag: string };

export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case "default":
      return "default";
    case "file":
      // The caller prints the key with its value; the location is enough here.
      return source.line === undefined ? source.path : `${source.path}:${source.line}`;
    case "env":
      return `environment variable ${source.variable}`;
    case "flag":
      return `flag --${source.flag}`;
  }
}

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    message: string,
    readonly source?: ConfigSource,
  ) {
    super(message);
  }
}
