/**
 * @module agent/api/pagination
 * fleet's page tokens (api/pagination.go): base64url of two little-endian uint16, the page size
 * and the page number (from 1). Clients echo `nextPageToken` back; a token made for another
 * page size is refused, as in fleet.
 */
import { ApiError } from "./errors.js";

export interface PageToken {
  readonly limit: number;
  readonly page: number;
}

export function encodePageToken(t: PageToken): string {
  const buf = Buffer.alloc(4);
  buf.writeUInt16LE(t.limit, 0);
  buf.writeUInt16LE(t.page, 2);
  return buf.toString("base64url").padEnd(8, "=");
}

/** The page asked for by `?nextPageToken=` (page 1 without one). */
export function pageFromQuery(values: readonly string[], limit: number): PageToken {
  if (values.length === 0) return { limit, page: 1 };
  if (values.length > 1)
    throw new ApiError(400, "too many values for page token: send nextPageToken once");
  const raw = values[0] as string;
  const normalized = raw.replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized) || normalized.replace(/=+$/, "").length !== 6) {
    throw new ApiError(
      400,
      `invalid nextPageToken ${JSON.stringify(raw)}: send back the token of the previous page unchanged`,
    );
  }
  const buf = Buffer.from(normalized, "base64");
  const token = { limit: buf.readUInt16LE(0), page: buf.readUInt16LE(2) };
  if (token.limit !== limit) throw new ApiError(400, `token limit must be ${limit}`);
  if (token.page < 1) throw new ApiError(400, "invalid nextPageToken: page must be 1 or more");
  return token;
}

/** One page of `items`, and the token of the next page if there is one. */
export function pageOf<T>(
  items: readonly T[],
  t: PageToken,
): { items: T[]; next: string | undefined } {
  const start = (t.page - 1) * t.limit;
  const page = items.slice(start, start + t.limit);
  const next =
    start + t.limit < items.length
      ? encodePageToken({ limit: t.limit, page: t.page + 1 })
      : undefined;
  return { items: page, next };
}
