/**
 * @module agent/api/machine-patch
 * `PATCH /fleet/v1/machines`: a JSON Patch list whose paths are `/<machineID>/metadata/<key>`
 * and whose values are `{"value": "<v>"}` (fleet's shape). Parsed whole before anything is
 * written: one bad operation and nothing changes.
 */
import { z } from "zod";
import type { MetadataPatch } from "../registry/machines.js";
import { ApiError } from "./errors.js";

const OperationSchema = z.object({
  op: z.string(),
  path: z.string(),
  value: z.unknown().optional(),
});

export interface MachinePatch {
  readonly machineId: string;
  readonly patch: MetadataPatch;
}

export function parseMachinePatch(body: unknown): MachinePatch[] {
  const list = z.array(OperationSchema).safeParse(body);
  if (!list.success) {
    throw new ApiError(400, 'expected a JSON array of {"op","path","value"} operations');
  }
  return list.data.map((op, i) => {
    const where = `operation ${i + 1}`;
    if (op.op !== "add" && op.op !== "remove" && op.op !== "replace") {
      throw new ApiError(
        400,
        `invalid op ${JSON.stringify(op.op)} in ${where}: expect add, remove, or replace`,
      );
    }
    const m = /^\/([^/]+)\/metadata\/([^/]+)$/.exec(op.path);
    if (m === null) {
      throw new ApiError(
        400,
        `machine metadata path invalid in ${where}: ${JSON.stringify(op.path)}; use /<machineID>/metadata/<key>`,
      );
    }
    const [, machineId, key] = m as unknown as [string, string, string];
    if (op.op === "remove") return { machineId, patch: { op: "remove", key } };
    const value = z.object({ value: z.string() }).safeParse(op.value);
    if (!value.success) {
      throw new ApiError(
        400,
        `invalid value in ${where}: add and replace require a value like {"value":"ssd"}`,
      );
    }
    return { machineId, patch: { op: op.op, key, value: value.data.value } };
  });
}
