#!/usr/bin/env node
/**
 * @module cli/main
 * The `fleetctl` command: runs one invocation against the process's stdio. SIGINT/SIGTERM end
 * --watch and journal -f cleanly (exit 0); a second signal exits at once.
 */
import { runFleetctl } from "./program.js";

const stop = new AbortController();
const onSignal = () => {
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await runFleetctl(process.argv.slice(2), {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  isTTY: process.stdout.isTTY === true,
  signal: stop.signal,
});
process.exitCode = code;
// Sockets to the API may linger in keep-alive; nothing else is left to do.
process.stdout.write("", () => process.exit(code));
