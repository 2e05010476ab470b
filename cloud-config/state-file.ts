/**
 * @module cloud-config/state-file
 * What the last run did, in <root>/var/lib/fleet-cloudinit/state.json: the document's hash and
 * the counts of changes, so an operator (and the boot test) can see that a run changed nothing.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { ApplyResult } from "./apply.js";

export const STATE_PATH = "/var/lib/fleet-cloudinit/state.json";

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
  const full = path.join(root, STATE_PATH);
  mkdirSync(path.dirname(full), { recursive: true, mode: 0o755 });
  const tmp = `${full}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, full);
}
