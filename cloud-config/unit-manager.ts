/**
 * @module cloud-config/unit-manager
 * The applier's UnitManager over the agent's D-Bus client of systemd.
 */
import { SystemdClient } from "../agent/systemd/index.js";
import type { UnitManager } from "./apply.js";
import type { UnitCommand } from "./schema.js";

export class SystemdUnitManager implements UnitManager {
  private constructor(private readonly client: SystemdClient) {}

  static async connect(busAddress?: string): Promise<SystemdUnitManager> {
    const client = await SystemdClient.connect(busAddress === undefined ? {} : { busAddress });
    return new SystemdUnitManager(client);
  }

  async daemonReload(): Promise<void> {
    await this.client.reload();
  }

  async enable(unit: string, runtime: boolean): Promise<number> {
    return (await this.client.enableUnitFiles([unit], runtime, true)).length;
  }

  async activeState(unit: string): Promise<string> {
    const [status] = await this.client.listUnitsByNames([unit]);
    return status?.activeState ?? "inactive";
  }

  async command(unit: string, command: UnitCommand): Promise<void> {
    switch (command) {
      case "start":
        await this.client.startUnit(unit);
        return;
      case "stop":
        await this.client.stopUnit(unit);
        return;
      case "restart":
        await this.client.restartUnit(unit);
        return;
      case "reload":
        await this.client.queueUnitJob("ReloadUnit", unit);
        return;
      case "try-restart":
        await this.client.queueUnitJob("TryRestartUnit", unit);
        return;
      case "reload-or-restart":
        await this.client.queueUnitJob("ReloadOrRestartUnit", unit);
        return;
      case "reload-or-try-restart":
        await this.client.queueUnitJob("ReloadOrTryRestartUnit", unit);
        return;
    }
  }

  close(): void {
    this.client.close();
  }
}
