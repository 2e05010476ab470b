/**
 * @module agent/systemd/errors
 * What went wrong talking to systemd, with the method, the unit and D-Bus's own error name,
 * so a log line says exactly which call failed and why.
 */

export class SystemdError extends Error {
  override name = "SystemdError";
  constructor(
    readonly method: string,
    readonly unit: string | undefined,
    /** D-Bus error name, e.g. org.freedesktop.systemd1.NoSuchUnit; "" for transport errors. */
    readonly dbusName: string,
    detail: string,
  ) {
    super(
      `systemd ${method}${unit === undefined ? "" : `(${unit})`} failed: ${dbusName === "" ? "" : `${dbusName}: `}${detail}`,
    );
  }
}

/** Not connected to the bus (it is down, or reconnecting). */
export class SystemdUnavailableError extends SystemdError {
  override name = "SystemdUnavailableError";
}

/** D-Bus says the unit is not loaded (GetUnit, ResetFailedUnit on an unloaded unit...). */
export function isNoSuchUnit(err: unknown): boolean {
  return (
    err instanceof SystemdError && /NoSuchUnit|not loaded/i.test(`${err.dbusName} ${err.message}`)
  );
}
