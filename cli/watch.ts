/**
 * @module cli/watch
 * `--watch`: follow the API's event stream (GET /fleet/v1/events, snapshot first) and redraw
 * on every change, or with `-o json` print every event as one JSON line. A dropped connection
 * is resumed from the last revision seen; a 410 (history compacted) starts over from a
 * snapshot. Ends when the signal aborts (Ctrl-C), with exit code 0.
 */
import { type ApiSocket, parseMessage } from "./api-client.js";
import { type Context, line, sleep } from "./context.js";
import { ApiResponseError, CliError } from "./errors.js";
import { applyEvent, type ClusterModel, emptyModel } from "./watch-model.js";
import { type ClusterEvent, EventSchema } from "./wire.js";

export interface WatchOptions {
  readonly kinds: readonly ("unit" | "state" | "machine")[];
  readonly json: boolean;
  /** The table for the current model. */
  readonly render: (model: ClusterModel) => string;
}

/** Give up after this many consecutive failed reconnections. */
const MAX_RECONNECTS = 5;
const CLEAR = "\u001b[H\u001b[2J";

export class WatchError extends CliError {
  override name = "WatchError";
}

type Outcome =
  | { kind: "aborted" }
  | { kind: "closed"; why: string }
  | { kind: "gone"; message: string };

function follow(
  ctx: Context,
  ws: ApiSocket,
  model: ClusterModel,
  opts: WatchOptions,
  ready: { seen: boolean },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const draw = () => {
      const table = opts.render(model);
      ctx.io.stdout(ctx.io.isTTY ? `${CLEAR}${table}` : `${table}\n`);
    };
    const onAbort = () => {
      ws.close();
      resolve({ kind: "aborted" });
    };
    ctx.io.signal?.addEventListener("abort", onAbort, { once: true });
    ws.onMessage((data) => {
      let e: ClusterEvent;
      try {
        e = parseMessage(EventSchema, data, "the event stream");
      } catch (err) {
        ctx.io.signal?.removeEventListener("abort", onAbort);
        ws.terminate();
        reject(err);
        return;
      }
      if (opts.json) ctx.io.stdout(`${JSON.stringify(e)}\n`);
      if (e.type === "error") {
        ctx.io.signal?.removeEventListener("abort", onAbort);
        if (e.code === 410) resolve({ kind: "gone", message: e.message });
        else reject(new WatchError(`the event stream failed (${e.code}): ${e.message}`));
        return;
      }
      const changed = applyEvent(model, e);
      if (e.type === "ready") {
        ready.seen = true;
        if (!opts.json) draw();
      } else if (changed && ready.seen && !opts.json) {
        draw();
      }
    });
    ws.onClose((why) => {
      ctx.io.signal?.removeEventListener("abort", onAbort);
      resolve(ctx.io.signal?.aborted ? { kind: "aborted" } : { kind: "closed", why });
    });
  });
}

export async function watchCluster(ctx: Context, opts: WatchOptions): Promise<number> {
  let model = emptyModel();
  let resumeFrom: number | undefined;
  let failures = 0;
  const kinds = `kinds=${opts.kinds.join(",")}`;
  while (!ctx.io.signal?.aborted) {
    const query =
      resumeFrom === undefined ? `snapshot=true&${kinds}` : `from=${resumeFrom}&${kinds}`;
    let ws: ApiSocket;
    try {
      ws = await ctx.api().openSocket(`/fleet/v1/events?${query}`);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      if (err instanceof ApiResponseError && err.status !== 502 && err.status !== 503) throw err;
      if (resumeFrom === undefined || ++failures > MAX_RECONNECTS) throw err;
      await sleep(500 * failures, ctx.io.signal);
      continue;
    }
    // Aborted while the socket opened: "abort" fired before follow() could listen for it.
    if (ctx.io.signal?.aborted) {
      ws.close();
      break;
    }
    const ready = { seen: resumeFrom !== undefined };
    const outcome = await follow(ctx, ws, model, opts, ready);
    if (outcome.kind === "aborted") break;
    if (outcome.kind === "gone") {
      ctx.io.stderr(line(`fleetctl: ${outcome.message}; starting over from a snapshot`));
      model = emptyModel();
      resumeFrom = undefined;
      continue;
    }
    failures = 0;
    // Resume after what this model already holds (a snapshot's revision included).
    resumeFrom = model.revision;
    ctx.io.stderr(line(`fleetctl: event stream closed: ${outcome.why}; reconnecting`));
  }
  return 0;
}
