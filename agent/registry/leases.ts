/**
 * @module agent/registry/leases
 * An etcd lease kept alive by us, not by etcd3's Lease class, for two reasons:
 * - a restarted fleetd must be able to adopt the lease its predecessor held (etcd3 can only
 *   grant new ones), so that its machine and unit states never disappear across a restart;
 * - the agent must know the moment its lease may have expired (TTL after the last successful
 *   keepalive), not 2×TTL later when etcd3 would emit `lost`, to fence itself in time.
 */
import { EventEmitter } from "node:events";
import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from "etcd3";
import type { Logger } from "../logging/logger.js";
import { RegistryError } from "./errors.js";

/**
 * Milliseconds on a clock that never jumps: epoch time at process start plus monotonic time
 * since. A lease's deadline must not move when NTP steps the wall clock (a backward step during
 * a partition would let at_most_once fence too late, a forward one fence for nothing).
 */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface LeaseKeeperEvents {
  /** etcd says the lease is gone (expired or revoked): keys on it are deleted. */
  expired: [];
  /** No keepalive has succeeded for a whole TTL: the lease may be gone; we cannot know. */
  stale: [];
  /** A keepalive succeeded after the lease was stale. */
  fresh: [];
}

export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  #timer: NodeJS.Timeout | undefined;
  #stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
  #lastOk: number;
  /** Send times of keepalives written on the current stream and not answered yet, oldest first. */
  #unanswered: number[] = [];
  #renewedNotBefore: number;
  #stale = false;
  #closed = false;
  /** Callers waiting for the next answer (resume). */
  #answerWaiters: (() => void)[] = [];

  private constructor(
    private readonly client: Etcd3,
    readonly id: string,
    readonly ttlSeconds: number,
    private readonly log: Logger,
    private readonly now: () => number,
    renewedNotBefore: number,
  ) {
    super();
    this.#lastOk = now();
    this.#renewedNotBefore = renewedNotBefore;
  }

  /** A new lease of `ttlSeconds` (at least 1). */
  static async grant(
    client: Etcd3,
    ttlSeconds: number,
    log: Logger,
    now: () => number = monotonicNow,
  ): Promise<LeaseKeeper> {
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    const asked = now();
    const res = await client.leaseClient.leaseGrant({ TTL: ttl });
    if (res.error) throw new RegistryError(`etcd refused a lease of ${ttl}s: ${res.error}`);
    const keeper = new LeaseKeeper(client, String(res.ID), ttl, log, now, asked);
    keeper.#start();
    return keeper;
  }

  /**
   * The lease `id` if etcd still holds it (a fleetd restarted within its TTL), else undefined.
   * The TTL is the lease's own granted TTL.
   */
  static async resume(
    client: Etcd3,
    id: string,
    log: Logger,
    now: () => number = monotonicNow,
  ): Promise<LeaseKeeper | undefined> {
    const asked = now();
    const res = await client.leaseClient.leaseTimeToLive({ ID: id });
    if (Number(res.TTL) <= 0) return undefined;
    // It expires no sooner than `asked` + the TTL left: as if renewed (granted - left) s before.
    const renewed = asked - (Number(res.grantedTTL) - Number(res.TTL)) * 1000;
    const keeper = new LeaseKeeper(
      client,
      String(res.ID),
      Number(res.grantedTTL),
      log,
      now,
      renewed,
    );
    keeper.#start();
    // Wait for etcd's answer, not just for the write: until it comes, renewedNotBefore is the
    // predecessor's, and a restart that took most of the TTL would look like a lease about to
    // expire (at_most_once would stop every unit, then start them again). Bounded by what is
    // left of the TTL: no answer by then means the lease may really be going.
    const answered = keeper.#nextAnswer(Math.max(0, Number(res.TTL) * 1000 - (now() - asked)));
    await keeper.keepaliveOnce();
    await answered;
    return keeper;
  }

  #nextAnswer(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#answerWaiters.push(done);
    });
  }

  /** When the last keepalive succeeded (ms, the injected clock). */
  get lastKeepaliveOk(): number {
    return this.#lastOk;
  }

  /**
   * A time at or before etcd's last renewal of the lease: the send time of the last keepalive
   * etcd answered (etcd renews when it receives one, which is after we sent it). The lease
   * cannot expire before this + TTL, whatever the delays on the way back; fencing counts from it.
   */
  get renewedNotBefore(): number {
    return this.#renewedNotBefore;
  }

  /** True while the lease is certainly alive: less than one TTL since the last keepalive. */
  isFresh(at: number = this.now()): boolean {
    return at - this.#lastOk < this.ttlSeconds * 1000;
  }

  #start(): void {
    // TTL/3 as etcd's own clients do: two keepalives may fail before the lease is at risk.
    const every = Math.max(100, (this.ttlSeconds * 1000) / 3);
    this.#timer = setInterval(() => {
      this.keepaliveOnce().catch((err: unknown) => {
        this.log.debug("lease keepalive failed", { lease: this.id, error: String(err) });
      });
      this.#checkStale();
    }, every);
    this.#timer.unref();
  }

  #checkStale(): void {
    if (!this.#stale && !this.isFresh()) {
      this.#stale = true;
      this.log.warn("lease may have expired: no keepalive succeeded for a whole TTL", {
        lease: this.id,
        ttl: this.ttlSeconds,
      });
      this.emit("stale");
    }
  }

  #opening: Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> | undefined;

  /** One stream at a time: two keepalives racing here must not each open one. */
  #openStream(): Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> {
    if (this.#stream !== undefined) return Promise.resolve(this.#stream);
    this.#opening ??= this.#newStream().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #newStream(): Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    stream.on("data", (res: ILeaseKeepAliveResponse) => this.#onResponse(res));
    const drop = () => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#unanswered = []; // answers to those will never come on a new stream
    };
    stream.on("error", (err: unknown) => {
      this.log.debug("lease keepalive stream failed", { lease: this.id, error: String(err) });
      drop();
    });
    stream.on("end", drop);
    this.#stream = stream;
    return stream;
  }

  #onResponse(res: ILeaseKeepAliveResponse): void {
    if (this.#closed) return;
    const sentAt = this.#unanswered.shift();
    // After the state below is updated: waiters look at it.
    queueMicrotask(() => {
      for (const w of this.#answerWaiters.splice(0)) w();
    });
    if (Number(res.TTL) <= 0) {
      this.log.warn("etcd reports the lease expired", { lease: this.id });
      this.close();
      this.emit("expired");
      return;
    }
    this.#lastOk = this.now();
    if (sentAt !== undefined && sentAt > this.#renewedNotBefore) this.#renewedNotBefore = sentAt;
    if (this.#stale) {
      this.#stale = false;
      this.emit("fresh");
    }
  }

  /** Sends one keepalive now. */
  async keepaliveOnce(): Promise<void> {
    if (this.#closed) return;
    const stream = await this.#openStream();
    this.#unanswered.push(this.now());
    stream.write({ ID: this.id });
  }

  /** Stops renewing; the lease expires after its TTL (keys stay until then). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#stream?.end();
    this.#stream = undefined;
  }

  /** Stops renewing and deletes the lease with every key on it, now. */
  async revoke(): Promise<void> {
    this.close();
    await this.client.leaseClient.leaseRevoke({ ID: this.id });
  }
}
