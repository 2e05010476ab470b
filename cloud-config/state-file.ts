/**
 * @module cloud-config/state-file
 * What the last run did, in <root>/var/lib/fleet-cloudinit/state.json: the document's hash and
 * the counts of changes, so an operator (and the boot test) can see that a run changed nothing.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import type { ApplyResult } from "./apply.js";
import { writeAtomic } from "./atomic-write.js";
import { CloudConfigApplyError } from "./errors.js";
import { preflightTargets, type WriteTarget } from "./preflight.js";

export const STATE_PATH = "/var/lib/fleet-cloudinit/state.json";

/**
 * The state file as a write target, for the apply's preflight: in a --root image an absolute
 * link such as /var -> /data/var would otherwise take the write out to the host.
 */
export const STATE_TARGET: WriteTarget = { path: STATE_PATH, where: `state file ${STATE_PATH}` };

export const runStateSchema = z.object({
  documentSha256: z.string(),
  finishedAt: z.string(),
  summary: z.string(),
  persistentChanges: z.number().int(),
  bootChanges: z.number().int(),
  results: z.array(
    z.object({
      action: z.string(),
      outcome: z.enum(["changed", "unchanged", "skipped"]),
      runtime: z.boolean(),
    }),
  ),
});
export type RunState = z.infer<typeof runStateSchema>;

export function documentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function writeRunState(root: string, text: string, result: ApplyResult): void {
  const state: RunState = {
    documentSha256: documentHash(text),
    finishedAt: new Date().toISOString(),
    summary: result.summary,
    persistentChanges: result.persistentChanges,
    bootChanges: result.bootChanges,
    results: result.results.map((r) => ({
      action: r.action,
      outcome: r.outcome,
      runtime: r.runtime,
    })),
  };
  // Checked again here: a caller may write the state without having applied through preflight.
  preflightTargets(root, [STATE_TARGET]);
  try {
    writeAtomic(
      path.join(root, STATE_PATH),
      Buffer.from(`${JSON.stringify(state, null, 2)}\n`),
      0o644,
      undefined,
    );
  } catch (err) {
    throw new CloudConfigApplyError(`write ${STATE_PATH}`, (err as Error).message);
  }
}
