/**
 * @module agent/registry/codecs
 * The schema of every value fleet-ts stores in etcd. Values are JSON; each is validated when
 * read, so a corrupt value, or one written by something else under our prefix, becomes a
 * `CorruptValue` naming its key instead of an exception inside a loop.
 */
import { z } from "zod";

export const DesiredStateSchema = z.enum(["inactive", "loaded", "launched"]);

export const UnitOptionSchema = z.object({
  section: z.string(),
  name: z.string(),
  value: z.string(),
});

/** `units/<name>`: what the user submitted and what they want of it. */
export const UnitRecordSchema = z.object({
  name: z.string().min(1),
  options: z.array(UnitOptionSchema),
  /** fleet's unit hash (SHA-1 of the canonical text), 40 hex chars. */
  hash: z.string().regex(/^[0-9a-f]{40}$/),
  desiredState: DesiredStateSchema,
});
export type UnitRecord = z.infer<typeof UnitRecordSchema>;

/**
 * `schedule/<machine>/<unit>`: everything an agent needs to decide without reading
 * anything else: which version (hash) and whether to run it. The unit's options are read
 * from `units/<name>` only when the hash is one the agent has not written yet.
 */
export const ScheduleEntrySchema = z.object({
  hash: z.string().regex(/^[0-9a-f]{40}$/),
  desiredState: z.enum(["loaded", "launched"]),
});
export type ScheduleEntry = z.infer<typeof ScheduleEntrySchema>;

/**
 * `placement/<unit>/<machine>`: the reverse index. It repeats the schedule entry's desired
 * state so that the API reads a unit in one range over its own keys (older writers stored `{}`).
 */
export const PlacementSchema = z.object({
  desiredState: z.enum(["loaded", "launched"]).optional(),
});
export type Placement = z.infer<typeof PlacementSchema>;

/** `machines/<id>`: a live agent, on its lease. */
export const MachineRecordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  publicIP: z.string(),
  /** Metadata from the agent's own configuration; `metadata/<id>` is merged over it. */
  metadata: z.record(z.string(), z.string()),
  version: z.string(),
  /** Where this machine's fleetd serves the API and journal streams, if it does. */
  apiUrl: z.string().optional(),
  /** Milliseconds since the epoch at which this agent registered. */
  startedAt: z.number(),
});
export type MachineRecord = z.infer<typeof MachineRecordSchema>;

/** `metadata/<id>`: metadata set through the API; a key set to null removes a config key. */
export const MetadataOverridesSchema = z.record(z.string(), z.string().nullable());
export type MetadataOverrides = z.infer<typeof MetadataOverridesSchema>;

/** `states/<unit>/<machine>`: systemd's view of the unit there, on the agent's lease. */
export const UnitStateRecordSchema = z.object({
  loadState: z.string(),
  activeState: z.string(),
  subState: z.string(),
  /** Hash of the unit file the agent placed; "" if systemd has a unit we did not write. */
  hash: z.string(),
  /** Milliseconds since the epoch of the last change of these states. */
  since: z.number(),
});
export type UnitStateRecord = z.infer<typeof UnitStateRecordSchema>;

/** `unschedulable/<unit>`: the scheduler's reason, for list-unit-files and status. */
export const UnschedulableSchema = z.object({ reason: z.string(), since: z.number() });
export type UnschedulableRecord = z.infer<typeof UnschedulableSchema>;

/** `drain/<machine>`: the machine is being drained (set and cleared through the API). */
export const DrainSchema = z.object({ since: z.number() });
export type DrainRecord = z.infer<typeof DrainSchema>;

export interface CorruptValue {
  readonly key: string;
  readonly problem: string;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly corrupt: CorruptValue };

export function decode<T>(schema: z.ZodType<T>, key: string, raw: Buffer | string): Decoded<T> {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return { ok: false, corrupt: { key, problem: "not JSON" } };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    return { ok: false, corrupt: { key, problem: `${issue?.message ?? "invalid"}${where}` } };
  }
  return { ok: true, value: result.data };
}

export function encode<T>(schema: z.ZodType<T>, value: T): Buffer {
  // Parsing before writing keeps us from storing what we could not read back.
  return Buffer.from(JSON.stringify(schema.parse(value)));
}
