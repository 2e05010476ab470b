/**
 * @module agent/systemd/client
 * A typed client of systemd's manager (org.freedesktop.systemd1) over D-Bus, on dbus-next.
 *
 * - Calls are raw method calls with explicit signatures: no introspection round trip per object.
 * - Signals: one match rule for the Manager's (JobRemoved, UnitNew, UnitRemoved) and one for
 *   PropertiesChanged of every unit object, then `Subscribe` (systemd emits nothing before it).
 * - dbus-next neither notices a closed socket (pending calls would hang) nor reconnects: every
 *   call has a timeout, the socket's end and a periodic Ping detect a lost bus, and the client
 *   reconnects with capped, jittered backoff, subscribes again, and emits `reconnected` so the
 *   agent resyncs. Nothing thrown on the bus's side escapes to crash fleetd.
 */
import { EventEmitter } from "node:events";
import dbus, { type MessageBus } from "dbus-next";
import { type Logger, silentLogger } from "../logging/logger.js";
import { SystemdError, SystemdUnavailableError } from "./errors.js";
import { UNIT_PATH_PREFIX, unitNameFromPath, unitObjectPath } from "./object-path.js";
import type { JobRemoved, UnitStateChange, UnitStatus } from "./unit-state.js";

const { Message, MessageType } = dbus;
type DBusMessage = InstanceType<typeof Message>;

const SYSTEMD = "org.freedesktop.systemd1";
const SYSTEMD_PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";
const PROPERTIES = "org.freedesktop.DBus.Properties";
/**
 * Per-unit match rules beyond this many give way to one rule for every unit: dbus-daemon's
 * system bus allows a connection 512 rules by default.
 */
const MAX_UNIT_RULES = 400;
const UNIT_CHANGES = `type='signal',sender='${SYSTEMD}',interface='${PROPERTIES}',member='PropertiesChanged',arg0='org.freedesktop.systemd1.Unit'`;

export interface SystemdClientOptions {
  /** D-Bus address, e.g. unix:path=/run/dbus/system_bus_socket; default: DBUS_SYSTEM_BUS_ADDRESS or the system bus. */
  readonly busAddress?: string;
  readonly log?: Logger;
  readonly callTimeoutMs?: number;
  /** How often to check that the bus still answers. */
  readonly pingIntervalMs?: number;
}

export interface SystemdEvents {
  jobRemoved: [JobRemoved];
  unitState: [UnitStateChange];
  disconnected: [reason: string];
  /** Connected again after a loss: anything may have changed, resync. */
  reconnected: [];
}

export interface UnitFileChange {
  readonly type: string;
  readonly file: string;
  readonly destination: string;
}

export function defaultBusAddress(): string {
  return process.env.DBUS_SYSTEM_BUS_ADDRESS ?? "unix:path=/var/run/dbus/system_bus_socket";
}

export class SystemdClient extends EventEmitter<SystemdEvents> {
  readonly busAddress: string;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #pingMs: number;
  #bus: MessageBus | undefined;
  #closed = false;
  #reconnecting = false;
  #ping: NodeJS.Timeout | undefined;
  /** Object path → unit name, from LoadUnit/GetUnit/ListUnitsByNames (unescaping is the fallback). */
  readonly #names = new Map<string, string>();
  /** Recent JobRemoved by job path: a job may finish before its caller starts waiting. */
  readonly #finished = new Map<string, { at: number; removed: JobRemoved }>();
  readonly #waiters = new Map<string, (r: JobRemoved) => void>();
  readonly #inFlight = new Set<(reason: string) => void>();
  /** Units whose state changes we are sent: "all", or these names (see `watchUnits`). */
  #wanted: "all" | ReadonlySet<string> = "all";
  /** The match rules for unit state changes that the bus holds for this connection. */
  readonly #rules = new Set<string>();
  #matching: Promise<void> = Promise.resolve();
  /** The bus refused a rule (its limit is below MAX_UNIT_RULES): one rule for all from then on. */
  #unitRulesRefused = false;

  private constructor(opts: SystemdClientOptions) {
    super();
    this.busAddress = opts.busAddress ?? defaultBusAddress();
    this.#log = (opts.log ?? silentLogger).with({ component: "systemd" });
    this.#timeoutMs = opts.callTimeoutMs ?? 10_000;
    // A closed socket is noticed at once (its end event); the ping only catches a bus that hangs
    // while the agent has nothing to ask (a call that gets no answer times out on its own). Each
    // ping costs ~2 ms of CPU in dbus-next: every 15 s it was a quarter of an idle agent's CPU.
    this.#pingMs = opts.pingIntervalMs ?? 60_000;
  }

  /** Connects and subscribes. @throws SystemdUnavailableError if the bus cannot be reached. */
  static async connect(opts: SystemdClientOptions = {}): Promise<SystemdClient> {
    const client = new SystemdClient(opts);
    await client.#open();
    return client;
  }

  get connected(): boolean {
    return this.#bus !== undefined;
  }

  async #open(): Promise<void> {
    const bus = dbus.sessionBus({ busAddress: this.busAddress });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("no answer from the bus")),
          this.#timeoutMs,
        );
        bus.once("connect", () => {
          clearTimeout(timer);
          resolve();
        });
        bus.once("error", (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
    } catch (err) {
      bus.on("error", () => {});
      bus.disconnect();
      throw new SystemdUnavailableError(
        "connect",
        undefined,
        "",
        `${this.busAddress}: ${(err as Error).message}`,
      );
    }
    bus.on("error", (err: unknown) => this.#lost(bus, `bus error: ${String(err)}`));
    // dbus-next does not forward the socket's end; its connection object does emit it.
    const conn = (bus as unknown as { _connection?: EventEmitter })._connection;
    conn?.on("end", () => this.#lost(bus, "bus connection closed"));
    bus.on("message", (m: DBusMessage) => this.#onMessage(m));
    this.#bus = bus;
    try {
      // Of the Manager's signals only JobRemoved: UnitNew/UnitRemoved come by the hundred
      // with every batch and nothing here needs them.
      await this.#busCall(
        "AddMatch",
        `type='signal',sender='${SYSTEMD}',interface='${MANAGER}',path='${SYSTEMD_PATH}',member='JobRemoved'`,
      );
      await this.#queueSync(bus, { fresh: true });
      await this.#manager("Subscribe", "", []);
    } catch (err) {
      this.#bus = undefined;
      bus.disconnect();
      throw err;
    }
    // Ping systemd itself (the bus policy refuses Peer.Ping to the bus daemon). Any reply, even
    // an error, proves the connection alive; only silence or a transport failure means lost.
    this.#ping = setInterval(() => {
      this.#call(
        SYSTEMD,
        SYSTEMD_PATH,
        "org.freedesktop.DBus.Peer",
        "Ping",
        "",
        [],
        undefined,
        5000,
      ).catch((err: unknown) => {
        if (err instanceof SystemdUnavailableError) this.#lost(bus, `ping failed: ${err.message}`);
      });
    }, this.#pingMs);
    this.#ping.unref();
  }

  #lost(bus: MessageBus, reason: string): void {
    if (this.#bus !== bus) return;
    this.#bus = undefined;
    // Their replies can never come: fail them now rather than at their timeout.
    for (const fail of this.#inFlight) fail(reason);
    this.#inFlight.clear();
    if (this.#ping !== undefined) clearInterval(this.#ping);
    try {
      bus.disconnect();
    } catch {
      // already closed
    }
    if (this.#closed) return;
    this.#log.warn("lost the D-Bus connection to systemd; reconnecting", { reason });
    this.emit("disconnected", reason);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        const cap = Math.min(5000, 100 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
        if (this.#closed) return;
        try {
          await this.#open();
          this.#log.info("reconnected to systemd", { attempts: attempt + 1 });
          this.emit("reconnected");
          return;
        } catch (err) {
          this.#log.debug("reconnect failed", { error: String(err) });
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  #onMessage(m: DBusMessage): void {
    try {
      if (m.type !== MessageType.SIGNAL) return;
      if (m.interface === MANAGER) this.#onManagerSignal(m);
      else if (m.interface === PROPERTIES && m.member === "PropertiesChanged")
        this.#onPropertiesChanged(m);
    } catch (err) {
      this.#log.warn("ignoring a signal we could not read", {
        member: m.member,
        error: String(err),
      });
    }
  }

  #onManagerSignal(m: DBusMessage): void {
    const body = m.body as unknown[];
    if (m.member === "JobRemoved") {
      const removed: JobRemoved = {
        id: Number(body[0]),
        job: String(body[1]),
        unit: String(body[2]),
        result: String(body[3]),
      };
      const waiter = this.#waiters.get(removed.job);
      if (waiter !== undefined) {
        this.#waiters.delete(removed.job);
        waiter(removed);
      } else {
        this.#finished.set(removed.job, { at: Date.now(), removed });
        if (this.#finished.size > 1000) this.#pruneFinished();
      }
      this.emit("jobRemoved", removed);
    }
  }

  #pruneFinished(): void {
    const old = Date.now() - 30_000;
    for (const [job, f] of this.#finished) if (f.at < old) this.#finished.delete(job);
  }

  #onPropertiesChanged(m: DBusMessage): void {
    const [iface, changed] = m.body as [string, Record<string, { value: unknown }>];
    if (iface !== "org.freedesktop.systemd1.Unit" || !m.path.startsWith(UNIT_PATH_PREFIX)) return;
    const name = this.#names.get(m.path) ?? unitNameFromPath(m.path);
    if (name === undefined) return;
    const pick = (k: string) => (changed[k] === undefined ? undefined : String(changed[k].value));
    const change: UnitStateChange = {
      name,
      ...(pick("LoadState") === undefined ? {} : { loadState: pick("LoadState") }),
      ...(pick("ActiveState") === undefined ? {} : { activeState: pick("ActiveState") }),
      ...(pick("SubState") === undefined ? {} : { subState: pick("SubState") }),
    };
    if (change.loadState ?? change.activeState ?? change.subState) this.emit("unitState", change);
  }

  /**
   * Which units' state changes to receive: "all" (the default), or only these. Once Subscribed,
   * systemd signals a change of any unit, and with a batch of units every target, slice and
   * socket they hang from changes too: ~20 signals per unit started, each a dictionary of
   * timestamps that costs CPU to decode. A rule per unit keeps out what nobody reads. Resolves
   * once the bus holds the rules: a unit watched before it starts has none of its changes missed.
   */
  watchUnits(names: "all" | Iterable<string>): Promise<void> {
    this.#wanted = names === "all" ? "all" : new Set(names);
    const bus = this.#bus;
    return bus === undefined ? Promise.resolve() : this.#queueSync(bus); // #open syncs them
  }

  /** One sync at a time: two at once could add a rule twice and remove it once. */
  #queueSync(bus: MessageBus, opts: { fresh?: boolean } = {}): Promise<void> {
    const next = this.#matching.then(() => {
      if (opts.fresh) this.#rules.clear(); // a new connection holds none of the old rules
      return this.#syncRules(bus);
    });
    this.#matching = next.catch(() => {});
    return next;
  }

  /** Adds the rules wanted and then removes the others, so no change falls in a gap. */
  async #syncRules(bus: MessageBus): Promise<void> {
    const wanted = this.#wanted;
    const target =
      wanted === "all" || wanted.size > MAX_UNIT_RULES || this.#unitRulesRefused
        ? new Set([`${UNIT_CHANGES},path_namespace='${UNIT_PATH_PREFIX.replace(/\/$/, "")}'`])
        : new Set([...wanted].map((n) => `${UNIT_CHANGES},path='${unitObjectPath(n)}'`));
    // Added together: one round trip each made a pass that watched 30 new units wait for 30.
    const adding = [...target].filter((rule) => !this.#rules.has(rule));
    if (this.#bus !== bus) return; // lost meanwhile: #open starts over
    const added = await Promise.allSettled(adding.map((rule) => this.#busCall("AddMatch", rule)));
    added.forEach((r, i) => {
      if (r.status === "fulfilled") this.#rules.add(adding[i] as string);
    });
    const failure = added.find((r) => r.status === "rejected");
    if (failure !== undefined) {
      const err: unknown = failure.reason;
      const refused = err instanceof SystemdError && err.dbusName.endsWith(".LimitsExceeded");
      if (this.#unitRulesRefused || !refused) throw err;
      this.#unitRulesRefused = true;
      this.#log.warn("the bus refuses more match rules; receiving every unit's changes", {
        rules: this.#rules.size,
        error: String(err),
      });
      return this.#syncRules(bus);
    }
    for (const rule of [...this.#rules]) {
      if (target.has(rule)) continue;
      if (this.#bus !== bus) return;
      await this.#busCall("RemoveMatch", rule);
      this.#rules.delete(rule);
    }
  }

  async #busCall(member: "AddMatch" | "RemoveMatch", rule: string): Promise<void> {
    await this.#call(
      "org.freedesktop.DBus",
      "/org/freedesktop/DBus",
      "org.freedesktop.DBus",
      member,
      "s",
      [rule],
    );
  }

  async #call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
    unit?: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<unknown[]> {
    const bus = this.#bus;
    if (bus === undefined) {
      throw new SystemdUnavailableError(
        member,
        unit,
        "",
        "not connected to the bus (reconnecting)",
      );
    }
    const msg = new Message({ destination, path, interface: iface, member, signature, body });
    let timer: NodeJS.Timeout | undefined;
    let fail: ((reason: string) => void) | undefined;
    try {
      const reply = await Promise.race([
        bus.call(msg),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
          fail = (reason) => reject(new Error(`connection lost: ${reason}`));
          this.#inFlight.add(fail);
        }),
      ]);
      return (reply?.body ?? []) as unknown[];
    } catch (err) {
      const e = err as { type?: string; text?: string; message?: string };
      if (e.type !== undefined) throw new SystemdError(member, unit, e.type, e.text ?? "");
      throw new SystemdUnavailableError(member, unit, "", e.message ?? String(err));
    } finally {
      clearTimeout(timer);
      if (fail !== undefined) this.#inFlight.delete(fail);
    }
  }

  #manager(member: string, signature: string, body: unknown[], unit?: string): Promise<unknown[]> {
    return this.#call(SYSTEMD, SYSTEMD_PATH, MANAGER, member, signature, body, unit);
  }

  /** Loads the unit if needed; returns its object path. */
  async loadUnit(name: string): Promise<string> {
    const [path] = await this.#manager("LoadUnit", "s", [name], name);
    this.#names.set(String(path), name);
    return String(path);
  }

  /** @throws SystemdError (NoSuchUnit) if the unit is not loaded. */
  async getUnit(name: string): Promise<string> {
    const [path] = await this.#manager("GetUnit", "s", [name], name);
    this.#names.set(String(path), name);
    return String(path);
  }

  /** Queues a start job; returns the job's object path (see `waitForJob`). */
  async startUnit(name: string, mode = "replace"): Promise<string> {
    const [job] = await this.#manager("StartUnit", "ss", [name, mode], name);
    return String(job);
  }

  async stopUnit(name: string, mode = "replace"): Promise<string> {
    const [job] = await this.#manager("StopUnit", "ss", [name, mode], name);
    return String(job);
  }

  async restartUnit(name: string, mode = "replace"): Promise<string> {
    const [job] = await this.#manager("RestartUnit", "ss", [name, mode], name);
    return String(job);
  }

  /**
   * The other job-queueing calls of systemctl (reload, try-restart, reload-or-restart,
   * reload-or-try-restart), for fleet-cloudinit's unit commands; returns the job path.
   */
  async queueUnitJob(
    method: "ReloadUnit" | "TryRestartUnit" | "ReloadOrRestartUnit" | "ReloadOrTryRestartUnit",
    name: string,
    mode = "replace",
  ): Promise<string> {
    const [job] = await this.#manager(method, "ss", [name, mode], name);
    return String(job);
  }

  /** Resolves with the job's JobRemoved (it may already have finished). */
  waitForJob(job: string, timeoutMs = 60_000): Promise<JobRemoved> {
    const done = this.#finished.get(job);
    if (done !== undefined) {
      this.#finished.delete(job);
      return Promise.resolve(done.removed);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(job);
        reject(
          new SystemdError(
            "waitForJob",
            undefined,
            "",
            `job ${job} did not finish within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#waiters.set(job, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** daemon-reload: one per batch of unit-file changes, never one per unit. */
  async reload(): Promise<void> {
    await this.#manager("Reload", "", []);
  }

  async linkUnitFiles(
    files: readonly string[],
    runtime = true,
    force = true,
  ): Promise<UnitFileChange[]> {
    const [changes] = await this.#manager(
      "LinkUnitFiles",
      "asbb",
      [files, runtime, force],
      files.join(","),
    );
    return toChanges(changes);
  }

  async enableUnitFiles(
    files: readonly string[],
    runtime = true,
    force = true,
  ): Promise<UnitFileChange[]> {
    const [, changes] = await this.#manager(
      "EnableUnitFiles",
      "asbb",
      [files, runtime, force],
      files.join(","),
    );
    return toChanges(changes);
  }

  async disableUnitFiles(names: readonly string[], runtime = true): Promise<UnitFileChange[]> {
    const [changes] = await this.#manager(
      "DisableUnitFiles",
      "asb",
      [names, runtime],
      names.join(","),
    );
    return toChanges(changes);
  }

  /** Clears a failed state. A unit that is not loaded has none: that is not an error here. */
  async resetFailedUnit(name: string): Promise<void> {
    try {
      await this.#manager("ResetFailedUnit", "s", [name], name);
    } catch (err) {
      if (err instanceof SystemdError && /NoSuchUnit|not loaded/i.test(err.message)) return;
      throw err;
    }
  }

  /** The states of these units, in one call (units systemd does not know come back not-found). */
  async listUnitsByNames(names: readonly string[]): Promise<UnitStatus[]> {
    if (names.length === 0) return [];
    const [rows] = await this.#manager("ListUnitsByNames", "as", [names]);
    return (rows as unknown[][]).map((r) => {
      this.#names.set(String(r[6]), String(r[0]));
      return {
        name: String(r[0]),
        description: String(r[1]),
        loadState: String(r[2]),
        activeState: String(r[3]),
        subState: String(r[4]),
      };
    });
  }

  /** One property of a unit object, with 64-bit integers as numbers. */
  async unitProperty(name: string, iface: "Unit" | "Service", property: string): Promise<unknown> {
    const path = await this.loadUnit(name);
    const [variant] = await this.#call(
      SYSTEMD,
      path,
      PROPERTIES,
      "Get",
      "ss",
      [`org.freedesktop.systemd1.${iface}`, property],
      name,
    );
    const value = (variant as { value: unknown }).value;
    return typeof value === "bigint" ? Number(value) : value;
  }

  async mainPid(name: string): Promise<number> {
    return Number(await this.unitProperty(name, "Service", "MainPID"));
  }

  close(): void {
    this.#closed = true;
    if (this.#ping !== undefined) clearInterval(this.#ping);
    const bus = this.#bus;
    this.#bus = undefined;
    bus?.disconnect();
  }
}

function toChanges(raw: unknown): UnitFileChange[] {
  return ((raw ?? []) as unknown[][]).map((c) => ({
    type: String(c[0]),
    file: String(c[1]),
    destination: String(c[2]),
  }));
}
