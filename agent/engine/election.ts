/**
 * @module agent/engine/election
 * Which engine leads, with etcd3's election API (etcd's recipe: every candidate puts a key on
 * its own lease under `<prefix>election/engine/`; the oldest key leads).
 *
 * Leadership is only ever used through its fence: every write of the leader compares its
 * campaign key's create revision. If the leader's lease expires (it was paused, cut off, or
 * etcd restarted) the key is deleted or re-created, the compare fails, and the late writes
 * apply nothing. The leader also watches its own key and steps down the moment it goes, rather
 * than when etcd3 reports the lease lost (up to 2×TTL later).
 */
import { EventEmitter } from "node:events";
import type { Campaign, Etcd3, Watcher } from "etcd3";
import type { Logger } from "../logging/logger.js";
import type { KeyLayout } from "../registry/keys.js";
import type { Compare, EtcdKV } from "../registry/kv.js";

export interface Leadership {
  readonly campaignKey: string;
  /** Compare to put in every transaction the leader writes. */
  readonly fence: readonly Compare[];
}

export interface ElectionEvents {
  elected: [Leadership];
  deposed: [reason: string];
}

export class LeaderElection extends EventEmitter<ElectionEvents> {
  #campaign: Campaign | undefined;
  #keyWatch: Watcher | undefined;
  #leading: Leadership | undefined;
  #stopped = true;
  #attempt = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly kv: EtcdKV,
    private readonly keys: KeyLayout,
    private readonly candidate: string,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
  ) {
    super();
  }

  get leadership(): Leadership | undefined {
    return this.#leading;
  }

  start(): void {
    this.#stopped = false;
    this.#campaignOnce();
  }

  #campaignOnce(): void {
    if (this.#stopped) return;
    const election = this.client
      .namespace(this.keys.prefix)
      .election("engine", Math.max(1, Math.ceil(this.ttlSeconds)));
    const campaign = election.campaign(this.candidate);
    this.#campaign = campaign;
    campaign.on("elected", () => {
      if (this.#campaign !== campaign) return;
      this.#becomeLeader(campaign).catch((err: unknown) =>
        this.#lost(campaign, `cannot read the campaign key: ${String(err)}`),
      );
    });
    campaign.on("error", (err: Error) => this.#lost(campaign, `campaign failed: ${err.message}`));
  }

  async #becomeLeader(campaign: Campaign): Promise<void> {
    const campaignKey = await campaign.getCampaignKey();
    const kv = await this.kv.get(campaignKey);
    if (kv === undefined) throw new Error("campaign key vanished");
    if (this.#campaign !== campaign) return;
    const watcher = await this.client.watch().key(campaignKey).create();
    watcher.on("delete", () => this.#lost(campaign, "campaign key deleted (lease expired)"));
    watcher.on("error", () => {});
    this.#keyWatch = watcher;
    this.#attempt = 0;
    this.#leading = {
      campaignKey,
      fence: [{ key: campaignKey, target: "create", equals: kv.createRevision }],
    };
    this.log.info("elected engine leader", { key: campaignKey });
    this.emit("elected", this.#leading);
  }

  /** Step down now, drop the campaign, and (unless stopped) campaign again after a pause. */
  #lost(campaign: Campaign, reason: string): void {
    if (this.#campaign !== campaign) return;
    this.#campaign = undefined;
    const wasLeading = this.#leading !== undefined;
    this.#leading = undefined;
    void this.#keyWatch?.cancel();
    this.#keyWatch = undefined;
    campaign.resign().catch(() => {});
    if (wasLeading) {
      this.log.warn("no longer the engine leader", { reason });
      this.emit("deposed", reason);
    } else {
      this.log.debug("campaign ended", { reason });
    }
    if (this.#stopped) return;
    const delay = Math.min(5000, 200 * 2 ** this.#attempt++);
    setTimeout(() => this.#campaignOnce(), delay).unref();
  }

  /** Leaves the election; a leader hands over at once (its key is deleted). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const campaign = this.#campaign;
    this.#campaign = undefined;
    const wasLeading = this.#leading !== undefined;
    this.#leading = undefined;
    await this.#keyWatch?.cancel();
    this.#keyWatch = undefined;
    if (wasLeading) this.emit("deposed", "resigned");
    await campaign?.resign().catch(() => {});
  }
}
