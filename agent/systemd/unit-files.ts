/**
 * @module agent/systemd/unit-files
 * Where the agent puts the unit files it runs, as fleet did: `/run/fleet/units/<name>`
 * (runtime: gone at reboot, like the schedule it came from), linked into systemd at runtime,
 * enabled at runtime when it has an `[Install]` section. The caller reloads systemd once per
 * batch when systemd needs it (agent/reconciler/reload.ts). Unloading disables and unlinks, clears a failed state, and removes the file.
 *
 * `fsRoot` lets a fleetd outside a host (tests, the demo) write into the host's file system
 * (`/proc/<pid>/root`) while telling the host's systemd the in-host path.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseUnitFile } from "../../units/unit-file.js";
import type { SystemdClient } from "./client.js";
import { SystemdError } from "./errors.js";

export interface UnitFileStoreOptions {
  /** As systemd sees it (default fleet's /run/fleet/units/). */
  readonly unitsDir?: string;
  /** Prefix for our own file operations, e.g. /proc/1234/root; "" on the host itself. */
  readonly fsRoot?: string;
}

export function hasInstallSection(text: string): boolean {
  try {
    return parseUnitFile(text).options.some((o) => o.section === "Install");
  } catch {
    return /^\s*\[Install\]\s*$/m.test(text);
  }
}

export class UnitFileStore {
  readonly unitsDir: string;
  readonly #fsRoot: string;

  constructor(
    private readonly systemd: SystemdClient,
    opts: UnitFileStoreOptions = {},
  ) {
    this.unitsDir = opts.unitsDir ?? "/run/fleet/units/";
    this.#fsRoot = opts.fsRoot ?? "";
  }

  /** The path systemd is given. */
  hostPath(name: string): string {
    return join(this.unitsDir, name);
  }

  #fsPath(name: string): string {
    return this.#fsRoot + this.hostPath(name);
  }

  /**
   * Writes the file (atomically, mode 0644), links it, and enables it if it has an [Install]
   * section. The caller decides on one `systemd.reload()` after a batch.
   */
  async place(name: string, text: string): Promise<{ enabled: boolean }> {
    const dir = this.#fsRoot + this.unitsDir;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, this.#fsPath(name));
    const path = this.hostPath(name);
    await this.systemd.linkUnitFiles([path], true, true);
    if (!hasInstallSection(text)) return { enabled: false };
    try {
      await this.systemd.enableUnitFiles([path], true, true);
    } catch (err) {
      // fleet removed a unit it could not enable rather than leave it half placed.
      await this.remove(name).catch(() => {});
      throw err;
    }
    return { enabled: true };
  }

  /** Disables and unlinks the unit, clears a failed state, removes the file. Stop it first. */
  async remove(name: string): Promise<void> {
    try {
      await this.systemd.disableUnitFiles([name], true);
    } catch (err) {
      if (!(err instanceof SystemdError) || !/NoSuchUnit|not found|No such file/i.test(err.message))
        throw err;
    }
    await this.systemd.resetFailedUnit(name);
    await rm(this.#fsPath(name), { force: true });
  }

  /** The unit files present (a restarted agent adopts them instead of rewriting them). */
  async list(): Promise<{ name: string; text: string }[]> {
    const dir = this.#fsRoot + this.unitsDir;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: { name: string; text: string }[] = [];
    for (const name of names.filter((n) => !n.startsWith(".")).sort()) {
      out.push({ name, text: await readFile(join(dir, name), "utf8") });
    }
    return out;
  }
}
