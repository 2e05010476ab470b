/**
 * @module cloud-config/gunzip
 * gzip decompression held to the size a whole user-data document may be, for the user data
 * itself and for `write_files` content: a few KiB of gzip can expand to gigabytes and exhaust
 * the host's memory at boot.
 */
import { gunzipSync } from "node:zlib";

/** The most bytes user data may hold, raw or decompressed; and one file's decompressed content. */
export const MAX_USER_DATA_BYTES = 16 * 1024 * 1024;

export type Gunzipped =
  | { readonly ok: true; readonly bytes: Buffer }
  /** `error` is zlib's message when the data is not gzip; absent when it expands past the limit. */
  | { readonly ok: false; readonly error?: string };

export function gunzipBounded(bytes: Buffer): Gunzipped {
  try {
    return { ok: true, bytes: gunzipSync(bytes, { maxOutputLength: MAX_USER_DATA_BYTES }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return { ok: false };
    return { ok: false, error: (err as Error).message };
  }
}
