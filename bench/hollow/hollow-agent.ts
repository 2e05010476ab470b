/**
 * @module bench/hollow/hollow-agent
 * HOLLOW agent for scale benchmarks: the real registry code against a real etcd — presence on
 * a real lease, a watch on its own `schedule/<id>/` prefix only, unit states published on its
 * lease only when they change — with `HollowSystemd` in place of systemd.
 */
import type { Etcd3 } from "etcd3";
import { silentLogger } from "../../agent/logging/logger.js";
import type { ScheduleEntry, UnitStateRecord } from "../../agent/registry/codecs.js";
import { decode, ScheduleEntrySchema } from "../../agent/registry/codecs.js";
import type { KeyLayout } from "../../agent/registry/keys.js";
import { EtcdKV } from "../../agent/registry/kv.js";
import { MachinePresence } from "../../agent/registry/machines.js";
import { StateStore } from "../../agent/registry/states.js";
import { PrefixWatch } from "../../agent/registry/watch.js";
import { HollowSystemd } from "./hollow-systemd.js";

export class HollowAgent {
  readonly systemd = new HollowSystemd();
  /** Watch batches received (each is a wake-up of this agent). */
  watchBatches = 0;
  statesWritten = 0;
  #presence: MachinePresence | undefined;
  #watch: PrefixWatch | undefined;
  readonly #kv: EtcdKV;
  readonly #states: StateStore;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: KeyLayout,
    readonly machineId: string,
    private readonly ttlSeconds: number,
    private readonly metadata: Record<string, string> = {},
  ) {
    this.#kv = new EtcdKV(client);
    this.#states = new StateStore(this.#kv, keys, silentLogger);
  }

  async start(): Promise<void> {
    this.#presence = await MachinePresence.register({
      client: this.client,
      kv: this.#kv,
      keys: this.keys,
      log: silentLogger,
      record: {
        id: this.machineId,
        publicIP: "127.0.0.1",
        metadata: this.metadata,
        version: "hollow",
        startedAt: Date.now(),
      },
      ttlSeconds: this.ttlSeconds,
    });
    const prefix = this.keys.schedulePrefix(this.machineId);
    this.#watch = await PrefixWatch.start({
      client: this.client,
      kv: this.#kv,
      prefix,
      log: silentLogger,
      handlers: {
        onResync: (listing) =>
          this.#converge(
            new Map(
              listing.kvs.flatMap((kv) => {
                const d = decode(ScheduleEntrySchema, kv.key, kv.value);
                return d.ok ? [[kv.key.slice(prefix.length), d.value] as const] : [];
              }),
            ),
            true,
          ),
        onEvents: async (events) => {
          this.watchBatches++;
          const changed = new Map<string, ScheduleEntry | undefined>();
          for (const e of events) {
            const unit = e.key.slice(prefix.length);
            if (e.type === "delete") changed.set(unit, undefined);
            else {
              const d = decode(ScheduleEntrySchema, e.key, e.value);
              if (d.ok) changed.set(unit, d.value);
            }
          }
          await this.#converge(changed, false);
        },
      },
    });
  }

  /** Makes the hollow systemd match the schedule and publishes what changed. */
  async #converge(
    entries: ReadonlyMap<string, ScheduleEntry | undefined>,
    full: boolean,
  ): Promise<void> {
    const presence = this.#presence;
    if (presence === undefined) return;
    const changes: { unit: string; state: UnitStateRecord | undefined }[] = [];
    for (const [unit, entry] of entries) {
      const before = this.systemd.get(unit);
      if (entry === undefined) {
        if (before !== undefined) {
          this.systemd.remove(unit);
          changes.push({ unit, state: undefined });
        }
        continue;
      }
      const after = this.systemd.apply(unit, entry.hash, entry.desiredState);
      if (before?.activeState !== after.activeState || before?.hash !== after.hash) {
        changes.push({ unit, state: { ...after, since: Date.now() } });
      }
    }
    if (full) {
      // A listing is the whole schedule: what is not in it must not run here.
      for (const unit of this.systemd.names()) {
        if (!entries.has(unit)) {
          this.systemd.remove(unit);
          changes.push({ unit, state: undefined });
        }
      }
    }
    if (changes.length > 0) {
      await this.#states.publish(this.machineId, presence.leaseId, changes);
      this.statesWritten += changes.length;
    }
  }

  /** The machine dies: no more keepalives; its lease expires after the TTL. */
  async crash(): Promise<void> {
    this.#presence?.close();
    await this.#watch?.close();
  }

  async stop(): Promise<void> {
    await this.#watch?.close();
    await this.#presence?.revoke().catch(() => {});
  }
}
