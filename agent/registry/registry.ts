/**
 * @module agent/registry/registry
 * The cluster state, one object per fleetd: stores for units, machines, states and the
 * schedule over one etcd client and one key layout. Construct it in main.ts and pass it down.
 */
import { Etcd3, type IOptions } from "etcd3";
import { type Logger, silentLogger } from "../logging/logger.js";
import { DrainStore } from "./drain.js";
import { KeyLayout } from "./keys.js";
import { EtcdKV } from "./kv.js";
import { MachineStore } from "./machines.js";
import { ScheduleStore } from "./schedule.js";
import { StateStore } from "./states.js";
import { UnitStore } from "./units.js";
import { PrefixWatch, type PrefixWatchHandlers } from "./watch.js";

export interface RegistryOptions {
  readonly endpoints: readonly string[];
  readonly prefix?: string;
  readonly log?: Logger;
  /** Passed to etcd3 as is (TLS credentials, auth, dial timeout). */
  readonly etcd?: Omit<IOptions, "hosts">;
  readonly now?: () => number;
}

export class Registry {
  readonly client: Etcd3;
  readonly keys: KeyLayout;
  readonly kv: EtcdKV;
  readonly units: UnitStore;
  readonly machines: MachineStore;
  readonly states: StateStore;
  readonly schedule: ScheduleStore;
  readonly drains: DrainStore;
  readonly log: Logger;

  constructor(opts: RegistryOptions) {
    this.log = opts.log ?? silentLogger;
    this.client = new Etcd3({ ...opts.etcd, hosts: [...opts.endpoints] });
    this.keys = new KeyLayout(opts.prefix);
    this.kv = new EtcdKV(this.client);
    this.units = new UnitStore(this.kv, this.keys, this.log);
    this.machines = new MachineStore(this.kv, this.keys, this.log);
    this.states = new StateStore(this.kv, this.keys, this.log);
    this.schedule = new ScheduleStore(this.kv, this.keys, this.machines, this.log, opts.now);
    this.drains = new DrainStore(this.kv, this.keys, this.log, opts.now);
  }

  watch(prefix: string, handlers: PrefixWatchHandlers): Promise<PrefixWatch> {
    return PrefixWatch.start({ client: this.client, kv: this.kv, prefix, handlers, log: this.log });
  }

  close(): void {
    this.client.close();
  }
}
