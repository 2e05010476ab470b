/**
 * Serves a trivial handler on fd 3 with listenFd, as fleetd does with fleet.socket's socket;
 * run under systemd-socket-activate by socket-activation.test.ts. TOKEN and INSECURE come from
 * the environment; a refusal is printed as `refused: <message>`.
 */
import { listenFd } from "../server.js";

listenFd(
  3,
  (_req, res) => {
    res.writeHead(200);
    res.end("{}");
  },
  undefined,
  {
    ...(process.env.TOKEN === undefined ? {} : { token: process.env.TOKEN }),
    insecureTcp: process.env.INSECURE === "1",
  },
).then(
  () => process.stdout.write("serving\n"),
  (err: unknown) => {
    process.stdout.write(`refused: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
