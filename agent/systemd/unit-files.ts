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

/** A unit file `placeAll` wrote: enabled if it has an [Install] section; error if it failed. */
export interface PlacedUnit {
  readonly name: string;
  readonly enabled: boolean;
  readonly error?: Error;
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
    const [placed] = await this.placeAll([{ name, text }]);
    if (placed?.error !== undefined) throw placed.error;
    return { enabled: placed?.enabled ?? false };
  }

  /**
   * `place` for a batch: the files are written together, then linked in one LinkUnitFiles and
   * enabled in one EnableUnitFiles. One call per file made a 30-unit pass wait for 30 round
   * trips through dbus-daemon and systemd before its first start. If a batched call fails, its
   * files are tried one by one, so that only the file systemd refuses fails (with its error).
   * A unit that cannot be enabled is removed, as fleet did, rather than left half placed.
   */
  async placeAll(units: readonly { name: string; text: string }[]): Promise<PlacedUnit[]> {
    if (units.length === 0) return [];
    const dir = this.#fsRoot + this.unitsDir;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const errors = new Map<string, Error>();
    await Promise.all(
      units.map(async ({ name, text }) => {
        try {
          const tmp = join(dir, `.${name}.${process.pid}.tmp`);
          await writeFile(tmp, text, { mode: 0o644 });
          await rename(tmp, this.#fsPath(name));
        } catch (err) {
          errors.set(name, asError(err));
        }
      }),
    );
    const ok = () => units.filter((u) => !errors.has(u.name)).map((u) => u.name);
    await this.#eachOrAll(ok(), (paths) => this.systemd.linkUnitFiles(paths, true, true), errors);
    const install = new Set(units.filter((u) => hasInstallSection(u.text)).map((u) => u.name));
    const linked = ok();
    await this.#eachOrAll(
      linked.filter((name) => install.has(name)),
      (paths) => this.systemd.enableUnitFiles(paths, true, true),
      errors,
    );
    // What removing them fails on is not reported: the caller is told why enabling failed.
    await this.removeAll(linked.filter((name) => install.has(name) && errors.has(name)));
    return units.map(({ name }) => {
      const error = errors.get(name);
      return error === undefined
        ? { name, enabled: install.has(name) }
        : { name, enabled: false, error };
    });
  }

  /**
   * One call for all the units (given their paths and names); if it fails, one call per unit,
   * recording who failed.
   */
  async #eachOrAll(
    names: readonly string[],
    call: (paths: string[], names: readonly string[]) => Promise<unknown>,
    errors: Map<string, Error>,
  ): Promise<void> {
    if (names.length === 0) return;
    try {
      await call(
        names.map((n) => this.hostPath(n)),
        names,
      );
      return;
    } catch (err) {
      if (names.length === 1) {
        errors.set(names[0] as string, asError(err));
        return;
      }
    }
    for (const name of names) {
      try {
        await call([this.hostPath(name)], [name]);
      } catch (err) {
        errors.set(name, asError(err));
      }
    }
  }

  /** Disables and unlinks the unit, clears a failed state, removes the file. Stop it first. */
  async remove(name: string): Promise<void> {
    const [removed] = await this.removeAll([name]);
    if (removed?.error !== undefined) throw removed.error;
  }

  /**
   * `remove` for a batch: one DisableUnitFiles for all of them (file by file if it fails),
   * then their failed states cleared and their files removed together. A pass that unloaded 30
   * units made 30 DisableUnitFiles one after another.
   */
  async removeAll(names: readonly string[]): Promise<{ name: string; error?: Error }[]> {
    const errors = new Map<string, Error>();
    await this.#eachOrAll(names, (_paths, batch) => this.#disable(batch), errors);
    await Promise.all(
      names
        .filter((name) => !errors.has(name))
        .map(async (name) => {
          try {
            await this.systemd.resetFailedUnit(name);
            await rm(this.#fsPath(name), { force: true });
          } catch (err) {
            errors.set(name, asError(err));
          }
        }),
    );
    return names.map((name) => {
      const error = errors.get(name);
      return error === undefined ? { name } : { name, error };
    });
  }

  /** Disables and unlinks these units; one that systemd does not know is already gone. */
  async #disable(names: readonly string[]): Promise<void> {
    try {
      await this.systemd.disableUnitFiles(names, true);
    } catch (err) {
      if (!(err instanceof SystemdError) || !/NoSuchUnit|not found|No such file/i.test(err.message))
        throw err;
      // In a batch, the unknown unit may have hidden the others: #eachOrAll does not retry a
      // call that "succeeded", so do them one by one here.
      if (names.length > 1) for (const name of names) await this.#disable([name]);
    }
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

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
