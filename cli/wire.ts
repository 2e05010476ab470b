/**
 * @module cli/wire
 * The JSON fleetctl reads from the API, as zod schemas: fleet API v1's unit, state and machine
 * objects (with fleet-ts's extra `reason` and `draining` fields), and the messages of the
 * extensions in docs/api.md (events, journal, status, drain). Every answer is parsed through
 * these, so a server that says something unexpected is an error naming the field, not a crash.
 */
import { z } from "zod";

export const WireOptionSchema = z.object({
  section: z.string(),
  name: z.string(),
  value: z.string(),
});

export const WireUnitSchema = z.object({
  name: z.string(),
  // fleet left currentState out for a single global unit; "" is what its client saw then.
  currentState: z.string().default(""),
  desiredState: z.string().default(""),
  machineID: z.string().optional(),
  options: z.array(WireOptionSchema).default([]),
  /** fleet-ts: why the scheduler did not place the unit where it should be. */
  reason: z.string().optional(),
});
export type WireUnit = z.infer<typeof WireUnitSchema>;

export const WireStateSchema = z.object({
  name: z.string(),
  hash: z.string().default(""),
  machineID: z.string().default(""),
  systemdActiveState: z.string().default(""),
  systemdLoadState: z.string().default(""),
  systemdSubState: z.string().default(""),
});
export type WireState = z.infer<typeof WireStateSchema>;

export const WireMachineSchema = z.object({
  id: z.string(),
  metadata: z.record(z.string(), z.string()).default({}),
  primaryIP: z.string().default(""),
  /** fleet-ts: present (true) only while the machine is drained. */
  draining: z.boolean().optional(),
});
export type WireMachine = z.infer<typeof WireMachineSchema>;

export const UnitPageSchema = z.object({
  units: z.array(WireUnitSchema).default([]),
  nextPageToken: z.string().optional(),
});
export const StatePageSchema = z.object({
  states: z.array(WireStateSchema).default([]),
  nextPageToken: z.string().optional(),
});
export const MachinePageSchema = z.object({
  machines: z.array(WireMachineSchema).default([]),
  nextPageToken: z.string().optional(),
});

export const ErrorEntitySchema = z.object({
  error: z.object({ code: z.number(), message: z.string() }),
});

export const UnitStatusSchema = z.object({
  machineID: z.string(),
  exitCode: z.number(),
  output: z.string(),
});
export type UnitStatus = z.infer<typeof UnitStatusSchema>;

export const DrainInfoSchema = z.object({
  machineID: z.string(),
  draining: z.boolean(),
  units: z.array(z.string()).default([]),
});
export type DrainInfo = z.infer<typeof DrainInfoSchema>;

const revision = z.number();
export const EventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("unit"),
    op: z.enum(["put", "delete"]),
    revision,
    name: z.string(),
    unit: WireUnitSchema.optional(),
  }),
  z.object({
    type: z.literal("state"),
    op: z.enum(["put", "delete"]),
    revision,
    name: z.string(),
    machineID: z.string(),
    state: WireStateSchema.optional(),
  }),
  z.object({
    type: z.literal("machine"),
    op: z.enum(["put", "delete"]),
    revision,
    id: z.string(),
    machine: WireMachineSchema.optional(),
  }),
  z.object({ type: z.literal("ready"), revision }),
  z.object({ type: z.literal("error"), code: z.number(), message: z.string() }),
]);
export type ClusterEvent = z.infer<typeof EventSchema>;

export const JournalMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("line"), line: z.string() }),
  z.object({ type: z.literal("end") }),
  z.object({ type: z.literal("error"), code: z.number(), message: z.string() }),
]);
export type JournalMessage = z.infer<typeof JournalMessageSchema>;
