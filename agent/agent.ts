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
 */
import { createHash } from "node:crypto";
import { serializeUnitFile } from "../units/unit-file.js";
import type { Logger } from "./logging/logger.js";
import { applyTasks } from "./reconciler/apply.js";
import { type CurrentUnit, type DesiredUnit, isRunning, planTasks } from "./reconciler/plan.js";
import type { MachineRecord, ScheduleEntry, UnitStateRecord } from "./registry/codecs.js";
import { decode, ScheduleEntrySchema } from "./registry/codecs.js";
import { MachinePresence } from "./registry/machines.js";
import type { Registry } from "./registry/registry.js";
import type { PrefixWatch } from "./registry/watch.js";
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
  /** Full resync with systemd every so often (default 60 s). */
  readonly resyncIntervalMs?: number;
}

interface SystemdState {
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
}

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
  readonly #published = new Map<string, UnitStateRecord>();
  #running: Promise<void> | undefined;
  #again = false;
  #publishTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Passes and state writes, for tests and benchmarks. */
  readonly stats = { passes: 0, stateWrites: 0 };

  constructor(opts: AgentOptions) {
    this.#o = opts;
    this.#log = opts.log.with({ component: "agent" });
  }

  get leaseId(): string | undefined {
    return this.#presence?.leaseId;
  }

  async start(): Promise<void> {
    const { registry, systemd, files } = this.#o;
    for (const f of await files.list()) this.#files.set(f.name, sha1(f.text));
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
      this.#schedulePublish();
    });
    systemd.on("reconnected", () => {
      void this.#refresh(this.#managedNames()).then(() => this.trigger());
    });

    this.#presence = await MachinePresence.register({
      client: registry.client,
      kv: registry.kv,
      keys: registry.keys,
      log: this.#log,
      record: this.#o.machine,
      ttlSeconds: this.#o.ttlSeconds,
      ...(this.#o.resumeLeaseId === undefined ? {} : { resumeLeaseId: this.#o.resumeLeaseId }),
    });
    this.#presence.on("leaseReplaced", () => {
      this.#published.clear(); // the old lease took our states with it
      this.#schedulePublish();
    });

    const prefix = registry.keys.schedulePrefix(this.#o.machine.id);
    const read = (key: string, value: Buffer) => {
      const d = decode(ScheduleEntrySchema, key, value);
      if (!d.ok)
        this.#log.warn("skipping unreadable schedule entry", { key, problem: d.corrupt.problem });
      return d.ok ? d.value : undefined;
    };
    this.#watch = await registry.watch(prefix, {
      onResync: (listing) => {
        this.#desired.clear();
        for (const kv of listing.kvs) {
          const entry = read(kv.key, kv.value);
          if (entry !== undefined) this.#desired.set(kv.key.slice(prefix.length), entry);
        }
        this.trigger();
      },
      onEvents: (events) => {
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
    this.#timer = setInterval(() => {
      void this.#refresh(this.#managedNames()).then(() => this.trigger());
    }, this.#o.resyncIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  #managed(name: string): boolean {
    return this.#desired.has(name) || this.#files.has(name);
  }

  #managedNames(): string[] {
    return [...new Set([...this.#desired.keys(), ...this.#files.keys()])];
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
      this.#schedulePublish();
    } catch (err) {
      this.#log.warn("cannot read unit states from systemd; will retry", { error: String(err) });
    }
  }

  /** Asks for a pass; changes during a pass coalesce into one more. */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass()
      .catch((err: unknown) =>
        this.#log.error("agent pass failed; will retry", { error: String(err) }),
      )
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.trigger();
        }
      });
  }

  async #pass(): Promise<void> {
    this.stats.passes++;
    await this.#fetchTexts();
    const desired = new Map<string, DesiredUnit>();
    for (const [name, e] of this.#desired) {
      desired.set(name, {
        name,
        hash: e.hash,
        desiredState: e.desiredState,
        text: this.#texts.get(e.hash),
      });
    }
    const current = new Map<string, CurrentUnit>();
    for (const name of this.#managedNames()) {
      current.set(name, {
        name,
        fileHash: this.#files.get(name),
        activeState: this.#systemd.get(name)?.activeState ?? "",
        launched: this.#launched.has(name),
      });
    }
    const tasks = planTasks(desired, current);
    if (tasks.length === 0) return;
    const fx = await applyTasks(tasks, this.#o.systemd, this.#o.files, this.#log);
    for (const [name, hash] of fx.written) this.#files.set(name, hash);
    for (const name of fx.removed) {
      this.#files.delete(name);
      this.#systemd.delete(name);
    }
    for (const name of fx.stopped) this.#launched.delete(name);
    for (const name of fx.started) this.#launched.add(name);
    const touched = [...new Set(tasks.flatMap((t) => (t.type === "reload" ? [] : [t.unit])))];
    await this.#refresh(touched.filter((n) => this.#managed(n)));
    this.#schedulePublish();
    if (fx.failed.length > 0) setTimeout(() => this.trigger(), 1000).unref();
  }

  /** The text of every scheduled hash we have not written yet, from `units/<name>`. */
  async #fetchTexts(): Promise<void> {
    for (const [name, e] of this.#desired) {
      if (this.#texts.has(e.hash) || this.#files.get(name) === e.hash) continue;
      try {
        const unit = await this.#o.registry.units.get(name);
        if (unit === undefined || unit.value.hash !== e.hash) continue; // changing: the schedule will follow
        this.#texts.set(e.hash, serializeUnitFile(unit.value.options));
      } catch (err) {
        this.#log.warn("cannot read unit; will retry", { unit: name, error: String(err) });
      }
    }
  }

  #schedulePublish(): void {
    if (this.#publishTimer !== undefined || this.#stopped) return;
    // A few milliseconds gather the burst of signals one job produces into one write.
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = undefined;
      this.#publish().catch((err: unknown) =>
        this.#log.warn("cannot publish unit states; will retry", { error: String(err) }),
      );
    }, 5);
  }

  async #publish(): Promise<void> {
    const presence = this.#presence;
    if (presence === undefined) return;
    const changes: { unit: string; state: UnitStateRecord | undefined }[] = [];
    const now = Date.now();
    for (const name of this.#managedNames()) {
      const s = this.#systemd.get(name);
      const fileHash = this.#files.get(name);
      if (s === undefined || fileHash === undefined) continue;
      const before = this.#published.get(name);
      if (
        before?.loadState === s.loadState &&
        before.activeState === s.activeState &&
        before.subState === s.subState &&
        before.hash === fileHash
      ) {
        continue;
      }
      const record = { ...s, hash: fileHash, since: now };
      changes.push({ unit: name, state: record });
    }
    for (const name of this.#published.keys()) {
      if (!this.#files.has(name)) changes.push({ unit: name, state: undefined });
    }
    if (changes.length === 0) return;
    await this.#o.registry.states.publish(this.#o.machine.id, presence.leaseId, changes);
    this.stats.stateWrites += changes.length;
    for (const c of changes) {
      if (c.state === undefined) this.#published.delete(c.unit);
      else this.#published.set(c.unit, c.state);
    }
  }

  /** Stop following the schedule; units keep running and the lease is left to the next fleetd. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#publishTimer !== undefined) clearTimeout(this.#publishTimer);
    await this.#watch?.close();
    await this.#running;
    this.#presence?.close();
  }
}
