/**
 * @module agent/reconciler/apply
 * Carries out planned tasks against systemd. A task that fails is logged with its reason and
 * reported back; the others still run (fleet aborted its whole pass on one failure, so one bad
 * unit stalled every other change on the machine).
 */
import type { Logger } from "../logging/logger.js";
import type { SystemdClient } from "../systemd/client.js";
import type { PlacedUnit, UnitFileStore } from "../systemd/unit-files.js";
import type { Task } from "./plan.js";
import { type ChangedUnit, decideReload, type ReloadDecision } from "./reload.js";

export interface ApplyEffects {
  /** Units started (their job was queued) and stopped, files written and removed. */
  readonly started: string[];
  readonly stopped: string[];
  readonly written: Map<string, string>;
  readonly removed: string[];
  readonly failed: { task: Task; error: string }[];
}

export async function applyTasks(
  tasks: readonly Task[],
  systemd: SystemdClient,
  files: UnitFileStore,
  log: Logger,
): Promise<ApplyEffects> {
  const effects: ApplyEffects = {
    started: [],
    stopped: [],
    written: new Map(),
    removed: [],
    failed: [],
  };
  const jobs: Promise<void>[] = [];
  const enabled = new Set<string>();
  const writeTasks = tasks.flatMap((t) => (t.type === "write" ? [t] : []));
  const writes = writeTasks.map((t) => t.unit);
  /** The batch's files, placed together by its first write (see UnitFileStore.placeAll). */
  let placing: Promise<Map<string, PlacedUnit>> | undefined;
  const unloads = tasks.flatMap((t) => (t.type === "unload" ? [t.unit] : []));
  /** The same for its unloads: error by unit, undefined where it was removed. */
  let removing: Promise<Map<string, Error | undefined>> | undefined;
  /** Units systemd held a parsed copy of, read once just before the batch's first write. */
  let heldBefore: Promise<ReadonlySet<string> | undefined> | undefined;
  const run = async (task: Task): Promise<void> => {
    try {
      switch (task.type) {
        case "stop": {
          const job = await systemd.stopUnit(task.unit);
          effects.stopped.push(task.unit);
          await systemd.waitForJob(job, 90_000);
          break;
        }
        case "unload": {
          removing ??= files
            .removeAll(unloads)
            .then((removed) => new Map(removed.map((r) => [r.name, r.error])));
          const error = (await removing).get(task.unit);
          if (error !== undefined) throw error;
          effects.removed.push(task.unit);
          break;
        }
        case "write": {
          heldBefore ??= heldCopies(systemd, writes);
          await heldBefore;
          placing ??= files
            .placeAll(writeTasks.map((t) => ({ name: t.unit, text: t.text })))
            .then((placed) => new Map(placed.map((p) => [p.name, p])));
          const placed = (await placing).get(task.unit);
          if (placed?.error !== undefined) throw placed.error;
          effects.written.set(task.unit, task.hash);
          if (placed?.enabled) enabled.add(task.unit);
          break;
        }
        case "reload": {
          const decision = await reloadDecision(effects, enabled, await heldBefore, systemd);
          if (decision.needed) await systemd.reload();
          log.info(decision.needed ? "agent reloaded systemd" : "agent skipped daemon-reload", {
            reason: decision.reason,
          });
          return;
        }
        case "start": {
          const job = await systemd.startUnit(task.unit);
          effects.started.push(task.unit);
          // Starts run concurrently; their outcome arrives as state changes anyway.
          jobs.push(
            systemd.waitForJob(job, 90_000).then(
              (r) => {
                if (r.result !== "done")
                  log.warn("start job did not succeed", { unit: task.unit, result: r.result });
              },
              () => {},
            ),
          );
          break;
        }
      }
      log.info("agent completed task", { type: task.type, unit: task.unit, reason: task.reason });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      effects.failed.push({ task, error });
      log.error("agent task failed", {
        type: task.type,
        unit: task.type === "reload" ? undefined : task.unit,
        reason: task.reason,
        error,
      });
    }
  };
  // Stops come first and run together: a fenced agent (at_most_once) has TTL/3 to stop all
  // its units, and systemd orders stop jobs by their dependencies itself.
  // Starts, last, are sent together too: systemd queues each job as its call arrives, and one
  // round trip each made the last of 30 starts wait for the other 29.
  const stops = tasks.filter((t) => t.type === "stop");
  await Promise.all(stops.map(run));
  for (const task of tasks) if (task.type !== "stop" && task.type !== "start") await run(task);
  await Promise.all(tasks.filter((t) => t.type === "start").map(run));
  await Promise.all(jobs);
  return effects;
}

/** The units systemd holds a parsed copy of; undefined if it cannot tell (then: reload). */
async function heldCopies(
  systemd: SystemdClient,
  names: readonly string[],
): Promise<ReadonlySet<string> | undefined> {
  try {
    const states = await systemd.listUnitsByNames(names);
    return new Set(states.filter((s) => s.loadState !== "not-found").map((s) => s.name));
  } catch {
    return undefined;
  }
}

/** What systemd now holds for the files this batch wrote and removed (see ./reload.ts). */
async function reloadDecision(
  effects: ApplyEffects,
  enabled: ReadonlySet<string>,
  heldBefore: ReadonlySet<string> | undefined,
  systemd: SystemdClient,
): Promise<ReloadDecision> {
  if (heldBefore === undefined && effects.written.size > 0)
    return { needed: true, reason: "cannot tell what systemd held before the writes" };
  try {
    const written = new Set(effects.written.keys());
    const names = [...written, ...effects.removed];
    const after = new Map((await systemd.listUnitsByNames(names)).map((s) => [s.name, s]));
    const state = (name: string) => after.get(name)?.loadState ?? "not-found";
    const units: ChangedUnit[] = names.map((name) =>
      written.has(name)
        ? {
            change: "written",
            name,
            heldBefore: heldBefore?.has(name) ?? true,
            loadState: state(name),
            enabled: enabled.has(name),
          }
        : { change: "removed", name, loadState: state(name) },
    );
    return decideReload(units);
  } catch (err) {
    return { needed: true, reason: `cannot tell what systemd holds (${String(err)})` };
  }
}
