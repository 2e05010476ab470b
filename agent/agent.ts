/**
 * @module agent/agent
 * The agent: makes this machine's systemd run what the leader scheduled here, and tells the
 * cluster what systemd reports.
 *
 * - It watches only `schedule/<its machine>/`: a change elsewhere never wakes it.
 * - A pass: read the unit text of any new hash, plan (pure, reconciler/plan.ts), apply, publish.
 * - States come from systemd's signals and are written to etcd (on the agent's lease) only when
 *   load/active/sub changed; a slow full resync is the safety net, and so is every reconnect.
 * - On start it adopts what is already there: files in the units directory and units systemd
 *   reports running count as loaded and launched, so a fleetd restart restarts nothing.
 * - When its lease was lost and replaced, it lists its schedule again from scratch before it
 *   acts (the leader moved its units meanwhile; events still on their way are stale).
 * - With `atMostOnce`, an agent cut off from etcd stops its non-global units before its lease
 *   can expire (reconciler/fence.ts), and runs them again once it knows the lease survived.
 */
import { createHash } from "node:crypto";
import { serializeUnitFile } from "../units/unit-file.js";
import type { Logger } from "./logging/logger.js";
import { applyTasks } from "./reconciler/apply.js";
import { fenceDecision, isGlobalUnitText, planFence } from "./reconciler/fence.js";
import {
  type CurrentUnit,
  type DesiredUnit,
  isRunning,
  planTasks,
  type Task,
} from "./reconciler/plan.js";
import type { MachineRecord, ScheduleEntry } from "./registry/codecs.js";
import { decode, ScheduleEntrySchema } from "./registry/codecs.js";
import { monotonicNow } from "./registry/leases.js";
import { MachinePresence } from "./registry/machines.js";
import type { Registry } from "./registry/registry.js";
import type { PrefixWatch } from "./registry/watch.js";
import { SerialRuns } from "./serial-runs.js";
import { type ReportedState, StatePublisher } from "./state-publisher.js";
import type { SystemdClient } from "./systemd/client.js";
import type { UnitFileStore } from "./systemd/unit-files.js";

export interface AgentOptions {
  readonly registry: Registry;
  readonly systemd: SystemdClient;
  readonly files: UnitFileStore;
  readonly machine: MachineRecord;
  readonly ttlSeconds: number;
  readonly log: Logger;
  /** The lease of a previous fleetd on this machine, to take over (see MachinePresence). */
  readonly resumeLeaseId?: string;
  /**
   * Full resync with systemd every so often (default 5 min). The signals carry every change;
   * this is the net for one lost on the bus, and it costs ~20 ms of CPU per 300 units (decoding
   * ListUnitsByNames), most of an idle agent's CPU when it ran every minute.
   */
  readonly resyncIntervalMs?: number;
  /**
   * fleet.conf `at_most_once`: when no keepalive has been answered for 2/3 of the TTL, stop
   * every non-global unit before the lease can expire, so no unit ever runs on two machines.
   */
  readonly atMostOnce?: boolean;
  readonly now?: () => number;
}

interface SystemdState {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
}

/** Unit reads in flight at once when a pass fetches the texts of newly scheduled units. */
const FETCH_CONCURRENCY = 64;

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  #presence: MachinePresence | undefined;
  #watch: PrefixWatch | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #desired = new Map<string, ScheduleEntry>();
  readonly #texts = new Map<string, string>();
  readonly #files = new Map<string, string>();
  readonly #launched = new Set<string>();
  readonly #systemd = new Map<string, SystemdState>();
  /** A resync soon, after a read of states from systemd failed: one pending at a time. */
  #resyncRetry: NodeJS.Timeout | undefined;
  readonly #states: StatePublisher;
  readonly #passes: SerialRuns;
  #stopped = false;
  /** Names of the units whose file on disk says Global=true. */
  readonly #global = new Set<string>();
  #prefix = "";
  /** Bumped when the watch is replaced, so a closed watch's late batches are dropped. */
  #watchGeneration = 0;
  /** The lease this agent last saw; another one means the old one expired. */
  #leaseSeen: string | undefined;
  /** The schedule is being listed again after a lease loss: act on nothing until it is. */
  #relisting: Promise<void> | undefined;
  #fencedSince: number | undefined;
  #fencing: Promise<void> | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  /** Passes, fences and relists, for tests and benchmarks. */
  readonly stats = { passes: 0, fences: 0, relists: 0 };

  constructor(opts: AgentOptions) {
    this.#o = opts;
    this.#log = opts.log.with({ component: "agent" });
    this.#passes = new SerialRuns(
      () => (this.#stopped ? Promise.resolve() : this.#pass()),
      (err) => this.#log.error("agent pass failed; will retry", { error: String(err) }),
    );
    this.#states = new StatePublisher({
      snapshot: () => ({ leaseId: this.#presence?.leaseId, reported: this.#reported() }),
      write: (leaseId, changes) => opts.registry.states.publish(opts.machine.id, leaseId, changes),
      log: this.#log,
    });
  }

  get leaseId(): string | undefined {
    return this.#presence?.leaseId;
  }

  /** Whether the agent has stopped its non-global units because it is cut off (at_most_once). */
  get fenced(): boolean {
    return this.#fencedSince !== undefined;
  }

  #now(): number {
    return (this.#o.now ?? monotonicNow)();
  }

  async start(): Promise<void> {
    const { registry, systemd, files } = this.#o;
    for (const f of await files.list()) {
      const hash = sha1(f.text);
      this.#files.set(f.name, hash);
      this.#texts.set(hash, f.text);
      if (isGlobalUnitText(f.name, f.text)) this.#global.add(f.name);
    }
    await this.#watchManaged();
    await this.#refresh([...this.#files.keys()]);
    for (const [name, s] of this.#systemd) if (isRunning(s.activeState)) this.#launched.add(name);

    systemd.on("unitState", (c) => {
      if (!this.#managed(c.name)) return;
      const before = this.#systemd.get(c.name) ?? { loadState: "", activeState: "", subState: "" };
      this.#systemd.set(c.name, {
        loadState: c.loadState ?? before.loadState,
        activeState: c.activeState ?? before.activeState,
        subState: c.subState ?? before.subState,
      });
      this.#states.request();
    });
    systemd.on("reconnected", () => this.#resync());

    this.#presence = await MachinePresence.register({
      client: registry.client,
      kv: registry.kv,
      keys: registry.keys,
      log: this.#log,
      record: this.#o.machine,
      ttlSeconds: this.#o.ttlSeconds,
      ...(this.#o.resumeLeaseId === undefined ? {} : { resumeLeaseId: this.#o.resumeLeaseId }),
    });
    this.#leaseSeen = this.#presence.leaseId;
    if (this.#presence.leaseId === this.#o.resumeLeaseId) {
      try {
        const leaseId = this.#presence.leaseId;
        this.#states.adopt(leaseId, await registry.states.heldBy(this.#o.machine.id, leaseId));
      } catch (err) {
        // Then every state is written again, and a state left by the predecessor for a unit
        // removed meanwhile stays until the lease ends.
        this.#log.warn("cannot read the states already published; writing them all", {
          error: String(err),
        });
      }
    }
    this.#states.request(); // what the refresh above read had no lease to go on yet
    this.#presence.on("leaseReplaced", () => {
      this.#states.request(); // the old lease took our states with it: write them again
      this.#checkLease();
    });

    this.#prefix = registry.keys.schedulePrefix(this.#o.machine.id);
    this.#watch = await this.#openWatch();
    this.#timer = setInterval(() => {
      // The publish also runs with no unit left: it deletes any state still held.
      this.#states.request();
      this.#resync();
    }, this.#o.resyncIntervalMs ?? 300_000);
    this.#timer.unref();
    if (this.#o.atMostOnce) {
      // Checked often, and keepalives sent twice as often as LeaseKeeper does: the fence then
      // waits for TTL/2 without an answer, not for one late answer.
      const every = Math.max(50, Math.min(500, (this.#o.ttlSeconds * 1000) / 30));
      let ticks = 0;
      const keepaliveEvery = Math.max(1, Math.round((this.#o.ttlSeconds * 1000) / 6 / every));
      this.#fenceTimer = setInterval(() => {
        if (++ticks % keepaliveEvery === 0) {
          this.#presence?.lease.keepaliveOnce().catch(() => {}); // failures show as no answer
        }
        this.#checkLease();
      }, every);
      this.#fenceTimer.unref();
    }
  }

  /** Watches `schedule/<me>/` from a fresh listing, which replaces what the agent knew. */
  async #openWatch(): Promise<PrefixWatch> {
    const prefix = this.#prefix;
    const generation = ++this.#watchGeneration;
    const read = (key: string, value: Buffer) => {
      const d = decode(ScheduleEntrySchema, key, value);
      if (!d.ok)
        this.#log.warn("skipping unreadable schedule entry", { key, problem: d.corrupt.problem });
      return d.ok ? d.value : undefined;
    };
    return this.#o.registry.watch(prefix, {
      onResync: (listing) => {
        if (generation !== this.#watchGeneration) return;
        this.#desired.clear();
        for (const kv of listing.kvs) {
          const entry = read(kv.key, kv.value);
          if (entry !== undefined) this.#desired.set(kv.key.slice(prefix.length), entry);
        }
        this.trigger();
      },
      onEvents: (events) => {
        if (generation !== this.#watchGeneration) return;
        for (const e of events) {
          const name = e.key.slice(prefix.length);
          if (e.type === "delete") this.#desired.delete(name);
          else {
            const entry = read(e.key, e.value);
            if (entry !== undefined) this.#desired.set(name, entry);
          }
        }
        this.trigger();
      },
    });
  }

  /**
   * Notices a replaced lease (the old one expired: the leader has moved this machine's units)
   * and, with at_most_once, fences or unfences (reconciler/fence.ts).
   */
  #checkLease(): void {
    const presence = this.#presence;
    if (presence === undefined || this.#stopped) return;
    if (presence.leaseId !== this.#leaseSeen) {
      this.#leaseSeen = presence.leaseId;
      this.#relist();
    }
    if (!this.#o.atMostOnce) return;
    const now = this.#now();
    const decision = fenceDecision({
      now,
      renewedNotBefore: presence.lease.renewedNotBefore,
      ttlMs: presence.lease.ttlSeconds * 1000,
      fencedSince: this.#fencedSince,
      relisting: this.#relisting !== undefined,
    });
    if (decision === "fence") {
      this.#fencedSince = now;
      this.stats.fences++;
      this.#log.warn("at_most_once: no answer from etcd; stopping non-global units", {
        lease: presence.leaseId,
        lastRenewalMsAgo: now - presence.lease.renewedNotBefore,
      });
    } else if (decision === "unfence") {
      this.#fencedSince = undefined;
      this.#log.info("at_most_once: lease renewed; running this machine's units again", {
        lease: presence.leaseId,
      });
      this.trigger();
      return;
    }
    if (this.#fencedSince !== undefined) this.#fence();
  }

  /** Lists the schedule again (after a lease loss), retrying until etcd answers. */
  #relist(): void {
    if (this.#relisting !== undefined) return;
    this.stats.relists++;
    this.#log.warn("lease was lost; listing this machine's schedule again before acting");
    const run = async () => {
      for (let attempt = 0; !this.#stopped; attempt++) {
        try {
          const old = this.#watch;
          this.#watchGeneration++; // the old watch's batches are stale from here on
          void old?.close().catch(() => {});
          const watch = await this.#openWatch();
          if (this.#stopped) await watch.close();
          else this.#watch = watch;
          return;
        } catch (err) {
          const delay = Math.min(5000, 100 * 2 ** attempt);
          this.#log.warn("cannot list the schedule; retrying", {
            error: String(err),
            retryInMs: delay,
          });
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    };
    this.#relisting = run().finally(() => {
      this.#relisting = undefined;
      this.#checkLease();
      this.trigger();
    });
  }

  /** While fenced: stops every running non-global unit (again, if a pass started one). */
  #fence(): void {
    if (this.#fencing !== undefined) return;
    const tasks = planFence(this.#current(), this.#global);
    if (tasks.length === 0) return;
    this.#fencing = this.#applyAndRecord(tasks)
      .then(() => {})
      .catch((err: unknown) =>
        this.#log.error("at_most_once: stopping units failed; retrying", { error: String(err) }),
      )
      .finally(() => {
        this.#fencing = undefined;
        // Unfenced while the stops ran: the pass that came then saw them still running and
        // planned nothing; run one now rather than at the next resync.
        if (this.#fencedSince === undefined) this.trigger();
      });
  }

  #managed(name: string): boolean {
    return this.#desired.has(name) || this.#files.has(name);
  }

  #managedNames(): string[] {
    return [...new Set([...this.#desired.keys(), ...this.#files.keys()])];
  }

  /**
   * Receives the state changes of the units this agent manages only. If the rules cannot be
   * set, the refresh after each batch and the resync still read every state.
   */
  async #watchManaged(): Promise<void> {
    try {
      await this.#o.systemd.watchUnits(this.#managedNames());
    } catch (err) {
      this.#log.warn("cannot narrow systemd's signals to our units; will retry", {
        error: String(err),
      });
    }
  }

  /** Reads systemd's state of these units (one call) and publishes what changed. */
  async #refresh(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    try {
      for (const s of await this.#o.systemd.listUnitsByNames(names)) {
        this.#systemd.set(s.name, {
          loadState: s.loadState,
          activeState: s.activeState,
          subState: s.subState,
        });
      }
      this.#states.request();
    } catch (err) {
      this.#log.warn("cannot read unit states from systemd; will retry", { error: String(err) });
      // The resync reads every unit again; one pending at a time, however many reads failed
      // while systemd was away.
      this.#resyncRetry ??= setTimeout(() => {
        this.#resyncRetry = undefined;
        if (!this.#stopped) this.#resync();
      }, 1000).unref();
    }
  }

  /** Reads the state of every unit we manage from systemd, then passes. */
  #resync(): void {
    void this.#refresh(this.#managedNames()).then(() => this.trigger());
  }

  /** Asks for a pass; changes during a pass coalesce into one more. */
  trigger(): void {
    if (!this.#stopped) this.#passes.request();
  }

  async #pass(): Promise<void> {
    this.stats.passes++;
    if (this.#relisting !== undefined) return; // it triggers a pass when done
    await this.#fetchTexts();
    // Checked after the awaits: a pass that waited on etcd (or a process that was paused) may
    // be past the fence deadline by now, before the fence timer had its turn.
    if (this.#o.atMostOnce) this.#checkLease();
    if (this.#relisting !== undefined) return;
    if (this.#fencedSince !== undefined) {
      this.#fence();
      return;
    }
    const desired = new Map<string, DesiredUnit>();
    for (const [name, e] of this.#desired) {
      desired.set(name, {
        name,
        hash: e.hash,
        desiredState: e.desiredState,
        text: this.#texts.get(e.hash),
      });
    }
    const tasks = planTasks(desired, this.#current());
    if (tasks.length === 0) return;
    await this.#watchManaged(); // before any start: none of its state changes is missed
    const failed = await this.#applyAndRecord(tasks);
    // A start may have raced a fence that began while it ran: stop it again.
    if (this.#fencedSince !== undefined) this.#fence();
    if (failed > 0) setTimeout(() => this.trigger(), 1000).unref();
  }

  #current(): Map<string, CurrentUnit> {
    const current = new Map<string, CurrentUnit>();
    for (const name of this.#managedNames()) {
      current.set(name, {
        name,
        fileHash: this.#files.get(name),
        activeState: this.#systemd.get(name)?.activeState ?? "",
        launched: this.#launched.has(name),
      });
    }
    return current;
  }

  /** Applies tasks, records what they changed, and re-reads the units they touched. */
  async #applyAndRecord(tasks: Task[]): Promise<number> {
    const fx = await applyTasks(tasks, this.#o.systemd, this.#o.files, this.#log);
    for (const [name, hash] of fx.written) {
      this.#files.set(name, hash);
      const text = this.#texts.get(hash);
      if (text !== undefined && isGlobalUnitText(name, text)) this.#global.add(name);
      else this.#global.delete(name);
    }
    for (const name of fx.removed) {
      this.#files.delete(name);
      this.#systemd.delete(name);
      this.#global.delete(name);
    }
    for (const name of fx.stopped) this.#launched.delete(name);
    for (const name of fx.started) this.#launched.add(name);
    const touched = [...new Set(tasks.flatMap((t) => (t.type === "reload" ? [] : [t.unit])))];
    await this.#refresh(touched.filter((n) => this.#managed(n)));
    this.#states.request();
    return fx.failed.length;
  }

  /**
   * The text of every scheduled hash we have not written yet, from `units/<name>`. The reads of
   * a batch are in flight together, FETCH_CONCURRENCY at a time: one after another, a pass that
   * received 50 new units spent 50 etcd round trips before its first start.
   */
  async #fetchTexts(): Promise<void> {
    const missing = [...this.#desired].filter(
      ([name, e]) => !this.#texts.has(e.hash) && this.#files.get(name) !== e.hash,
    );
    const fetchOne = async ([name, e]: (typeof missing)[number]): Promise<void> => {
      try {
        const unit = await this.#o.registry.units.get(name);
        if (unit === undefined || unit.value.hash !== e.hash) return; // changing: the schedule will follow
        this.#texts.set(e.hash, serializeUnitFile(unit.value.options));
      } catch (err) {
        this.#log.warn("cannot read unit; will retry", { unit: name, error: String(err) });
      }
    };
    for (let i = 0; i < missing.length; i += FETCH_CONCURRENCY)
      await Promise.all(missing.slice(i, i + FETCH_CONCURRENCY).map(fetchOne));
  }

  /**
   * What to publish: systemd's state of each unit we hold a file for, once it is known whole. A
   * unit's first signals (its start) usually arrive before the read that follows the pass, and
   * they do not carry LoadState: publishing them wrote a state with an empty LoadState, then a
   * second write when the read came back.
   */
  #reported(): Map<string, ReportedState> {
    const reported = new Map<string, ReportedState>();
    for (const name of this.#managedNames()) {
      const s = this.#systemd.get(name);
      const hash = this.#files.get(name);
      if (s !== undefined && s.loadState !== "" && hash !== undefined)
        reported.set(name, { ...s, hash });
    }
    return reported;
  }

  /** Stop following the schedule; units keep running and the lease is left to the next fleetd. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#fenceTimer !== undefined) clearInterval(this.#fenceTimer);
    if (this.#resyncRetry !== undefined) clearTimeout(this.#resyncRetry);
    await this.#watch?.close();
    await this.#passes.running;
    await this.#fencing;
    await this.#states.stop();
    this.#presence?.close();
  }
}
