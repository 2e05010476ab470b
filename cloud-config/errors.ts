/**
 * @module cloud-config/errors
 * Every failure of fleet-cloudinit is a CloudConfigError (or a subclass), so callers (the CLI,
 * the property test) can tell a bad document or a refused apply from a bug.
 */

export class CloudConfigError extends Error {
  override name = "CloudConfigError";
}

/** The document cannot be applied as written: names the field or line and how to fix it. */
export class CloudConfigInputError extends CloudConfigError {
  override name = "CloudConfigInputError";
  constructor(
    /** Where: a field path such as `write_files[2].path`, or `line 7`. */
    readonly where: string,
    detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** Reading the user-data (file, URL, stdin) failed. */
export class CloudConfigSourceError extends CloudConfigError {
  override name = "CloudConfigSourceError";
}

/** The target system refused a change (file system, systemd, user database). */
export class CloudConfigApplyError extends CloudConfigError {
  override name = "CloudConfigApplyError";
  constructor(
    readonly action: string,
    detail: string,
  ) {
    super(`${action}: ${detail}`);
  }
}
