/**
 * @module agent/api/history
 * The shared event feed's recent messages, bounded in bytes.
 */
import type { FeedMessage } from "./event-feed.js";

/**
 * The shared feed's recent messages, so that a client that reconnects after a short break
 * resumes from memory instead of a watch of its own. `coveredAfter` is the revision after
 * which every message is still held; older ones are dropped a whole revision at a time.
 */
export class History {
  readonly #messages: FeedMessage[] = [];
  #head = 0;
  #bytes = 0;
  coveredAfter: number;

  constructor(
    startRevision: number,
    private readonly limitBytes: number,
  ) {
    this.coveredAfter = startRevision;
  }

  add(batch: readonly FeedMessage[]): void {
    for (const m of batch) {
      this.#messages.push(m);
      this.#bytes += m.json.length;
    }
    while (this.#bytes > this.limitBytes && this.#head < this.#messages.length) {
      const rev = (this.#messages[this.#head] as FeedMessage).revision;
      while (this.#head < this.#messages.length && this.#messages[this.#head]?.revision === rev) {
        this.#bytes -= (this.#messages[this.#head] as FeedMessage).json.length;
        this.#head++;
      }
      this.coveredAfter = rev;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#messages.length) {
      this.#messages.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Messages newer than `revision` (which must be >= coveredAfter). */
  since(revision: number): FeedMessage[] {
    const out: FeedMessage[] = [];
    for (let i = this.#head; i < this.#messages.length; i++) {
      const m = this.#messages[i] as FeedMessage;
      if (m.revision > revision) out.push(m);
    }
    return out;
  }
}
