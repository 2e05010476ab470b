/**
 * @module agent/config/duration
 * Go's `time.ParseDuration` syntax, which fleet used for `agent_ttl` ("30s", "1m30s",
 * "1.5h"), so existing fleet.conf files keep working.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a Go duration, or undefined when the text is not one. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    sign = s.startsWith("-") ? -1 : 1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const m = TERM.exec(s);
    if (m === null) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return sign * total;
}
