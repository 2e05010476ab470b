/**
 * @module cli/errors
 * What can go wrong in fleetctl, as classes a command can tell apart (a missing unit is an
 * answer, an unreachable API is not). Each message says what to do about it.
 */

export class CliError extends Error {
  override name = "CliError";
}

/** Bad flags or arguments: nothing was sent to the cluster. Exit code 2. */
export class UsageError extends CliError {
  override name = "UsageError";
}

/** The endpoint, TLS or token settings cannot be used as given. */
export class EndpointError extends CliError {
  override name = "EndpointError";
}

/** No answer from the API: nothing listens there, the connection broke, or it timed out. */
export class ApiUnreachableError extends CliError {
  override name = "ApiUnreachableError";
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(
      `cannot reach the fleet API at ${endpoint}: ${reason} (is fleetd running there? set --endpoint or FLEETCTL_ENDPOINT)`,
    );
  }
}

/**
 * The API answered with an error entity. The message is formatted as fleet's Go client
 * (google-api-go-client) formatted it, so fleetctl's error lines read as fleet's did.
 */
export class ApiResponseError extends CliError {
  override name = "ApiResponseError";
  constructor(
    readonly status: number,
    readonly apiMessage: string,
  ) {
    super(`googleapi: Error ${status}: ${apiMessage}`);
  }
}

/** The API answered something that is not what the protocol says (wrong JSON shape). */
export class ApiProtocolError extends CliError {
  override name = "ApiProtocolError";
}
