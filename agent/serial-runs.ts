/**
 * @module agent/serial-runs
 * Runs an async job one at a time: a request while it runs is remembered, and all such
 * requests lead to one more run after it. The agent's passes, the engine's passes and the
 * state writes are all run this way; two overlapping runs of any of them would act on
 * what the other has not recorded yet (the lost state deletions of docs/benchmarks.md).
 */
export class SerialRuns {
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly job: () => Promise<void>,
    /** Told of a run that failed; the next request runs again. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The run in progress, if any (to wait for it). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  request(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.job()
      .catch(this.onError)
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }
}
