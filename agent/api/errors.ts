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
