/**
 * A fleet-ts engine alone in its own process, so that tests can SIGKILL or SIGSTOP a leader
 * for real. Usage: tsx test/harness/engine-process.ts <endpoints,> <prefix> <machineId> <ttlSeconds>
 * Logs one line per event to stdout.
 */
import { Engine } from "../../agent/engine/engine.js";
import { formatFields, type LogFields, type Logger } from "../../agent/logging/logger.js";
import { Registry } from "../../agent/registry/registry.js";

const [endpoints, prefix, machineId, ttl, intervalMs] = process.argv.slice(2);
if (
  endpoints === undefined ||
  prefix === undefined ||
  machineId === undefined ||
  ttl === undefined
) {
  process.stderr.write("usage: engine-process <endpoints> <prefix> <machineId> <ttlSeconds>\n");
  process.exit(2);
}

function stdoutLogger(base: LogFields = {}): Logger {
  const line = (level: string) => (msg: string, fields?: LogFields) =>
    process.stdout.write(`${Date.now()} ${level} ${msg} ${formatFields({ ...base, ...fields })}\n`);
  return {
    error: line("ERROR"),
    warn: line("WARN"),
    info: line("INFO"),
    debug: () => {},
    trace: () => {},
    with: (fields) => stdoutLogger({ ...base, ...fields }),
  };
}

const log = stdoutLogger({ machine: machineId.slice(0, 8) });
const registry = new Registry({ endpoints: endpoints.split(","), prefix, log });
const engine = new Engine({
  registry,
  machineId,
  ttlSeconds: Number(ttl),
  reconcileIntervalMs: Number(intervalMs ?? 2000),
  log,
});
engine.start();
process.stdout.write(`${Date.now()} READY\n`);
process.on("SIGTERM", () => {
  void engine.stop().finally(() => {
    registry.close();
    process.exit(0);
  });
});
