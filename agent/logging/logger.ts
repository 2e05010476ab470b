/**
 * @module agent/logging/logger
 * fleetd logs one line per event to stderr for journald, with a level and key=value fields
 * (fleet's habit: `AgentReconciler completed task: type=UnloadUnit job=x reason="..."`).
 * Components receive a Logger; tests pass a recording one.
 */

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (e.g. component=engine). */
  with(fields: LogFields): Logger;
}

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** fleet's `verbosity`: 0 info, 1 debug, 2 or more trace. */
export function levelForVerbosity(verbosity: number): LogLevel {
  return verbosity <= 0 ? "info" : verbosity === 1 ? "debug" : "trace";
}

export function formatFields(fields: LogFields): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const s = String(v);
      return `${k}=${/^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)}`;
    })
    .join(" ");
}

class LineLogger implements Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly write: (line: string) => void,
    private readonly base: LogFields,
  ) {}
  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] > RANK[this.level]) return;
    const all = formatFields({ ...this.base, ...fields });
    this.write(`${level.toUpperCase()} ${msg}${all === "" ? "" : ` ${all}`}`);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  trace(msg: string, fields?: LogFields): void {
    this.#log("trace", msg, fields);
  }
  with(fields: LogFields): Logger {
    return new LineLogger(this.level, this.write, { ...this.base, ...fields });
  }
}

/** A logger writing lines to stderr (journald adds the time). */
export function stderrLogger(level: LogLevel = "info"): Logger {
  return new LineLogger(level, (line) => process.stderr.write(`${line}\n`), {});
}

/** A logger that keeps its lines, for tests. */
export function memoryLogger(level: LogLevel = "trace"): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const logger = new LineLogger(level, (line) => lines.push(line), {});
  return Object.assign(logger, { lines });
}

export const silentLogger: Logger = new LineLogger("error", () => {}, {});
