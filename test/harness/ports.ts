/**
 * @module test/harness/ports
 * A loopback TCP port nobody listens on right now, for the etcd, API and demo listeners that
 * tests, benchmarks and the demo start (the kernel picks it; it is free until someone binds it).
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0));
    });
  });
}
