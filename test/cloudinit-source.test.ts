/**
 * User-data sources and gzip: compressed user data is decompressed only up to the same 16 MiB
 * limit the raw data has, so a small gzip bomb (from a file or an HTTP GET on loopback) is a
 * clear refusal naming its source instead of an out-of-memory crash.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudConfigSourceError } from "../cloud-config/errors.js";
import { readFromFile, readFromUrl } from "../cloud-config/source.js";

const LIMIT = 16 * 1024 * 1024;
// 17 MiB of spaces compresses to about 17 KiB.
const BOMB = gzipSync(Buffer.alloc(LIMIT + 1024 * 1024, " "));
const DOC = "#cloud-config\nhostname: web1\n";

let dir: string;
let server: Server;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cloudinit-source-"));
  server = createServer((req, res) => {
    res.end(req.url === "/bomb" ? BOMB : gzipSync(DOC));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("gzip-compressed user data", () => {
  it("is decompressed when it fits the limit", async () => {
    const file = path.join(dir, "small.gz");
    writeFileSync(file, gzipSync(DOC));
    expect(readFromFile(file).toString("utf8")).toBe(DOC);
    expect((await readFromUrl(`${url}/small`)).toString("utf8")).toBe(DOC);
    // Exactly at the limit is still accepted.
    const full = path.join(dir, "full.gz");
    writeFileSync(full, gzipSync(Buffer.alloc(LIMIT, " ")));
    expect(readFromFile(full).length).toBe(LIMIT);
  });

  it("a file that expands past 16 MiB is refused, naming the file", () => {
    const file = path.join(dir, "bomb.gz");
    writeFileSync(file, BOMB);
    expect(BOMB.length).toBeLessThan(1024 * 1024);
    expect(() => readFromFile(file)).toThrow(CloudConfigSourceError);
    expect(() => readFromFile(file)).toThrow(
      `${file}: gzip-compressed user data expands to more than ${LIMIT} bytes (the limit)`,
    );
  });

  it("a download that expands past 16 MiB is refused, naming the URL", async () => {
    await expect(readFromUrl(`${url}/bomb`)).rejects.toThrow(
      `${url}/bomb: gzip-compressed user data expands to more than ${LIMIT} bytes (the limit)`,
    );
  });

  it("bytes that only look like gzip are still a clear error", () => {
    const file = path.join(dir, "broken.gz");
    writeFileSync(file, Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]));
    expect(() => readFromFile(file)).toThrow(/broken\.gz: looks gzip-compressed but is not valid/);
  });
});
