/**
 * @module agent/api/errors
 * fleet's error entity, `{"error":{"code":N,"message":"..."}}`, which fleetctl and other
 * clients parse. Our messages say what to fix; the codes are fleet's.
 */

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function errorEntity(status: number, message: string): string {
  return JSON.stringify({ error: { code: status, message } });
}

/** A path segment decoded, or a 400 naming it (decodeURIComponent throws on a stray `%`). */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(
      400,
      `invalid percent-encoding in ${JSON.stringify(raw)}: encode "%" as %25`,
    );
  }
}
