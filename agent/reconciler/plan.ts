/**
 * @module agent/reconciler/plan
 * The agent's decision, pure: what this machine is scheduled to run versus what is on its disk
 * and in its systemd → the ordered tasks that close the gap, each with a reason.
 *
 * Order: stop what must stop, unload what must go, write what is new or changed, reload
 * systemd once if any file changed and systemd needs it (the applier asks it: ./reload.ts),
 * then start. A unit that crashed is not restarted here:
 * systemd's `Restart=` owns that (fleet did the same); a unit is started when it should be
 * launched and this agent has not started it (or its file changed).
 */

export interface DesiredUnit {
  readonly name: string;
  readonly hash: string;
  readonly desiredState: "loaded" | "launched";
  /** The unit file's text, once read from etcd (undefined: not known yet, skip it this pass). */
  readonly text: string | undefined;
}

export interface CurrentUnit {
  readonly name: string;
  /** Hash of our file for it (undefined: no file of ours). */
  readonly fileHash: string | undefined;
  /** systemd's ActiveState ("" if systemd does not know it). */
  readonly activeState: string;
  /** Whether this agent started it (or adopted it running) and has not stopped it since. */
  readonly launched: boolean;
}

export type Task =
  | { readonly type: "stop"; readonly unit: string; readonly reason: string }
  | { readonly type: "unload"; readonly unit: string; readonly reason: string }
  | {
      readonly type: "write";
      readonly unit: string;
      readonly text: string;
      readonly hash: string;
      readonly reason: string;
    }
  | { readonly type: "reload"; readonly reason: string }
  | { readonly type: "start"; readonly unit: string; readonly reason: string };

const RUNNING = new Set(["active", "activating", "reloading", "deactivating"]);

export function isRunning(activeState: string): boolean {
  return RUNNING.has(activeState);
}

export function planTasks(
  desired: ReadonlyMap<string, DesiredUnit>,
  current: ReadonlyMap<string, CurrentUnit>,
): Task[] {
  const stops: Task[] = [];
  const unloads: Task[] = [];
  const writes: Task[] = [];
  const starts: Task[] = [];
  const names = [...new Set([...desired.keys(), ...current.keys()])].sort();
  for (const name of names) {
    const want = desired.get(name);
    const have = current.get(name);
    if (want === undefined) {
      if (have === undefined) continue;
      if (have.launched || isRunning(have.activeState)) {
        stops.push({ type: "stop", unit: name, reason: "unit not scheduled here" });
      }
      if (have.fileHash !== undefined) {
        unloads.push({ type: "unload", unit: name, reason: "unit not scheduled here" });
      }
      continue;
    }
    if (want.text === undefined) continue; // its text is being fetched
    const changed = have?.fileHash !== undefined && have.fileHash !== want.hash;
    const missing = have?.fileHash === undefined;
    const running = have !== undefined && (have.launched || isRunning(have.activeState));
    if (changed && running) {
      stops.push({ type: "stop", unit: name, reason: "unit file changed" });
    }
    if (missing || changed) {
      writes.push({
        type: "write",
        unit: name,
        text: want.text,
        hash: want.hash,
        reason: missing ? "unit scheduled here but not loaded" : "unit file changed",
      });
    }
    if (want.desiredState === "launched") {
      if (changed || !have?.launched) {
        starts.push({ type: "start", unit: name, reason: "unit launched here but not started" });
      }
    } else if (!changed && running) {
      stops.push({ type: "stop", unit: name, reason: "desired state loaded but unit running" });
    }
  }
  const reload: Task[] =
    writes.length > 0 || unloads.length > 0
      ? [{ type: "reload", reason: `${writes.length + unloads.length} unit file(s) changed` }]
      : [];
  return [...stops, ...unloads, ...writes, ...reload, ...starts];
}
