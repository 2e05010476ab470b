/**
 * @module cli/context
 * What a command runs with: where its output goes, its environment, the API client (made on
 * first use, so `version` and usage errors never touch the network), and the pace of fleet's
 * polling loops and of the WebSockets' liveness check. Commands print only through `out`/`err`, so tests capture them byte for byte.
 */
import type { ApiClient } from "./api-client.js";

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** stdout is a terminal: --watch redraws in place instead of appending tables. */
  readonly isTTY: boolean;
  /** Aborted on SIGINT/SIGTERM (or by a test): --watch and journal -f end cleanly. */
  readonly signal?: AbortSignal;
}

/**
 * fleet's waitForState: check every 250 ms, give up an attempt after 2 s. A WebSocket silent
 * for 35 s is taken for dead: the API pings every 15 s, so that is two missed pings and a margin.
 */
export interface Pace {
  readonly pollMs: number;
  readonly attemptMs: number;
  readonly silenceMs: number;
}
export const FLEET_PACE: Pace = { pollMs: 250, attemptMs: 2000, silenceMs: 35_000 };

export interface Context {
  readonly io: Io;
  readonly pace: Pace;
  api(): ApiClient;
}

/** fleet's stdout()/stderr(): one line, a newline added when missing. */
export function line(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** Go's %v of a []string: `[a b c]`. */
export function goList(items: readonly string[]): string {
  return `[${items.join(" ")}]`;
}

/** Go's %q for the ASCII strings fleetctl quotes. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", done);
      clearTimeout(t);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
