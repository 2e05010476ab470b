/**
 * @module cloud-config/write-file-content
 * `write_files` content encodings and permissions, as coreos-cloudinit read them
 * (config/decode.go, system/file.go): base64 is Go's strict StdEncoding; gzip is one gzip stream.
 */
import { gunzipBounded, MAX_USER_DATA_BYTES } from "./gunzip.js";

export type Decoded = { ok: true; bytes: Buffer } | { ok: false; reason: string };

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go's base64.StdEncoding.DecodeString: padding required; CR and LF are skipped. */
export function decodeBase64Strict(text: string): Decoded {
  const clean = text.replace(/[\r\n]/g, "");
  if (!STD_BASE64.test(clean)) {
    const bad = [...clean].findIndex((ch) => !/[A-Za-z0-9+/=]/.test(ch));
    return {
      ok: false,
      reason:
        bad >= 0
          ? `not base64: illegal character ${JSON.stringify(clean[bad])} at byte ${bad}`
          : "not base64: wrong length or padding (base64 text is a multiple of 4 characters, padded with =)",
    };
  }
  return { ok: true, bytes: Buffer.from(clean, "base64") };
}

function gunzip(bytes: Buffer): Decoded {
  const out = gunzipBounded(bytes);
  if (out.ok) return out;
  const reason =
    out.error === undefined
      ? `gzip content expands to more than ${MAX_USER_DATA_BYTES} bytes (the limit)`
      : `not gzip data: ${out.error}`;
  return { ok: false, reason };
}

/** config.DecodeContent: the file's bytes, or why they cannot be had. */
export function decodeContent(content: string, encoding: string): Decoded {
  switch (encoding) {
    case "":
      return { ok: true, bytes: Buffer.from(content, "utf8") };
    case "b64":
    case "base64":
      return decodeBase64Strict(content);
    case "gz":
    case "gzip":
      // The YAML string holds the compressed bytes one per character (latin1), as Go's did.
      return gunzip(Buffer.from(content, "latin1"));
    case "gz+base64":
    case "gzip+base64":
    case "gz+b64":
    case "gzip+b64": {
      const raw = decodeBase64Strict(content);
      return raw.ok ? gunzip(raw.bytes) : raw;
    }
    default:
      return {
        ok: false,
        reason: `unknown encoding ${JSON.stringify(encoding)} (use base64, b64, gzip, gz, gzip+base64 or gz+b64)`,
      };
  }
}

/** system.File.Permissions: "" is 0644; otherwise octal, "0755" or "755". */
export function fileMode(
  permissions: string,
): { ok: true; mode: number } | { ok: false; reason: string } {
  if (permissions === "") return { ok: true, mode: 0o644 };
  if (!/^0?[0-7]{3,4}$/.test(permissions)) {
    return {
      ok: false,
      reason: `permissions ${JSON.stringify(permissions)} is not an octal mode (write it quoted, like '0644')`,
    };
  }
  return { ok: true, mode: Number.parseInt(permissions, 8) };
}
