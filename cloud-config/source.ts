/**
 * @module cloud-config/source
 * Where the user data comes from: a file, a URL (http or https GET), or stdin. gzip-compressed
 * user data is decompressed, as coreos-cloudinit did.
 */
import { readFileSync } from "node:fs";
import { CloudConfigSourceError } from "./errors.js";
import { gunzipBounded, MAX_USER_DATA_BYTES as MAX_BYTES } from "./gunzip.js";

function maybeGunzip(bytes: Buffer, where: string): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const out = gunzipBounded(bytes);
  if (out.ok) return out.bytes;
  throw new CloudConfigSourceError(
    out.error === undefined
      ? `${where}: gzip-compressed user data expands to more than ${MAX_BYTES} bytes (the limit)`
      : `${where}: looks gzip-compressed but is not valid gzip: ${out.error}`,
  );
}

export function readFromFile(file: string): Buffer {
  try {
    return maybeGunzip(readFileSync(file), file);
  } catch (err) {
    if (err instanceof CloudConfigSourceError) throw err;
    throw new CloudConfigSourceError(
      `cannot read user data from ${file}: ${(err as Error).message}`,
    );
  }
}

export async function readFromStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    n += b.length;
    if (n > MAX_BYTES)
      throw new CloudConfigSourceError(`stdin: user data larger than ${MAX_BYTES} bytes`);
    chunks.push(b);
  }
  return maybeGunzip(Buffer.concat(chunks), "stdin");
}

export async function readFromUrl(url: string): Promise<Buffer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CloudConfigSourceError(`--from-url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CloudConfigSourceError(`--from-url ${url}: only http and https are supported`);
  }
  let res: Response;
  try {
    res = await fetch(parsed, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new CloudConfigSourceError(`GET ${url} failed: ${(err as Error).message}`);
  }
  if (!res.ok) throw new CloudConfigSourceError(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_BYTES)
    throw new CloudConfigSourceError(`GET ${url}: larger than ${MAX_BYTES} bytes`);
  return maybeGunzip(bytes, url);
}
