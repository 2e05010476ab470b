/**
 * @module agent/reconciler/reload
 * Whether a batch of unit-file changes needs a daemon-reload, decided from what systemd reports
 * for the batch's units just before the files are written and once they are on disk: two
 * ListUnitsByNames calls per batch, whatever its size.
 *
 * fleet reloaded after every batch. On these hosts a reload costs 0.3–1 s (systemd re-runs every
 * generator and re-reads every unit, on every host at once) while starting a unit costs ~20 ms,
 * so an unneeded reload was most of a start's latency. systemd loads a unit it has no parsed copy
 * of straight from disk when it is first asked for, and retries a "not-found" stub once its
 * lookup directories change (linking the file changes them). So a reload is needed only when:
 * - systemd held a parsed copy of a written unit before the write (that copy is now stale), or
 *   does not find the written file at all (a systemd too old to pick up new files by itself);
 * - a written unit was enabled: its [Install] symlinks reach targets already loaded only
 *   through a reload;
 * - a removed unit is still held by systemd (stopped but referenced, or failed): only a reload
 *   drops the copy whose file is gone.
 */

/** One unit whose file this batch wrote or removed, as ListUnitsByNames reports it. */
export type ChangedUnit =
  | {
      readonly change: "written";
      readonly name: string;
      /** systemd held a parsed copy (a LoadState other than not-found) before the write. */
      readonly heldBefore: boolean;
      /** LoadState after the write. */
      readonly loadState: string;
      /** The batch enabled it ([Install]). */
      readonly enabled: boolean;
    }
  | {
      readonly change: "removed";
      readonly name: string;
      /** LoadState after the removal: not-found when systemd holds nothing for it. */
      readonly loadState: string;
    };

export interface ReloadDecision {
  readonly needed: boolean;
  readonly reason: string;
}

export function decideReload(units: readonly ChangedUnit[]): ReloadDecision {
  const reasons: string[] = [];
  const names = (pick: (u: ChangedUnit) => boolean, say: string): void => {
    const hit = units.filter(pick).map((u) => u.name);
    if (hit.length > 0) reasons.push(`${say} ${hit.join(", ")}`);
  };
  names((u) => u.change === "written" && u.loadState === "not-found", "systemd did not find");
  names(
    (u) => u.change === "written" && u.loadState !== "not-found" && u.heldBefore,
    "systemd holds an older copy of",
  );
  names((u) => u.change === "written" && u.enabled, "[Install] enabled for");
  names(
    (u) => u.change === "removed" && u.loadState !== "not-found",
    "systemd still holds removed",
  );
  if (reasons.length > 0) return { needed: true, reason: reasons.join("; ") };
  return { needed: false, reason: "systemd loaded every new file without one" };
}
