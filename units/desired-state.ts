/**
 * @module units/desired-state
 * fleet's three cluster-level unit states (Documentation/states.md) and the commands that move
 * a unit between them. The desired state is what the user asked for; the current state is what
 * the cluster has reached.
 */
import { z } from "zod";
import { UnitsError } from "./errors.js";

export const DesiredStateSchema = z.enum(["inactive", "loaded", "launched"]);
/** `inactive`: known, not on a machine; `loaded`: in systemd there; `launched`: started. */
export type DesiredState = z.infer<typeof DesiredStateSchema>;
export const DESIRED_STATES = DesiredStateSchema.options;

/**
 * What the cluster has reached for a unit (fleetctl's `STATE` column, the API's
 * `currentState`): the same three words. `loaded`/`launched` mean the machine's agent has
 * loaded/started it in systemd; a global unit has no single current state (fleetctl shows `-`).
 */
export const CurrentStateSchema = z.enum(["inactive", "loaded", "launched"]);
export type CurrentState = z.infer<typeof CurrentStateSchema>;

/** A desired state, or `none`: not submitted (or destroyed). */
export type Lifecycle = DesiredState | "none";

/**
 * The steps a unit may take directly (states.md: "Units may only transition directly between
 * these states"): none ↔ inactive ↔ loaded ↔ launched.
 */
const ORDER: readonly Lifecycle[] = ["none", "inactive", "loaded", "launched"];

export function isDirectTransition(from: Lifecycle, to: Lifecycle): boolean {
  return Math.abs(ORDER.indexOf(from) - ORDER.indexOf(to)) === 1;
}

/**
 * The states a unit passes through on its way from `from` to `to`, `to` included:
 * `inactive` → `launched` is `loaded`, `launched`; `loaded` → `none` is `inactive`, `none`.
 */
export function transitionSteps(from: Lifecycle, to: Lifecycle): Lifecycle[] {
  const a = ORDER.indexOf(from);
  const b = ORDER.indexOf(to);
  const dir = Math.sign(b - a);
  const steps: Lifecycle[] = [];
  for (let i = a + dir; dir !== 0 && i !== b + dir; i += dir) steps.push(ORDER[i] as Lifecycle);
  return steps;
}

export type UnitCommand = "submit" | "load" | "start" | "stop" | "unload" | "destroy";

/** What each command asks for, and from which states it may be given ("none" = not submitted). */
export const COMMANDS: Readonly<
  Record<UnitCommand, { readonly to: Lifecycle; readonly from: readonly Lifecycle[] }>
> = {
  submit: { to: "inactive", from: ["none"] },
  load: { to: "loaded", from: ["none", "inactive"] },
  start: { to: "launched", from: ["none", "inactive", "loaded"] },
  stop: { to: "loaded", from: ["launched"] },
  unload: { to: "inactive", from: ["launched", "loaded"] },
  destroy: { to: "none", from: ["launched", "loaded", "inactive"] },
};

export class TransitionError extends UnitsError {
  override name = "TransitionError";
}

function refusal(command: UnitCommand, unit: string, from: Lifecycle): string {
  const head = `cannot ${command} ${unit}`;
  if (from === "none") return `${head}: it is not submitted, so there is nothing to ${command}`;
  if (command === "submit") {
    return `${head}: it is already submitted (${from}); destroy it first to submit another unit file under this name`;
  }
  if (command === "stop")
    return `${head}: it is ${from}, not launched, so there is nothing to stop`;
  if (command === "load" && from === "launched") {
    return `${head}: it is launched; use stop to keep it loaded but not running`;
  }
  return `${head}: it is already ${from}`;
}

/**
 * The state `command` takes `unit` to, from `current` (undefined = not submitted).
 * @throws TransitionError saying what to do instead.
 */
export function commandTarget(
  command: UnitCommand,
  unit: string,
  current: DesiredState | undefined,
): Lifecycle {
  const spec = COMMANDS[command];
  const from = current ?? "none";
  if (!spec.from.includes(from)) throw new TransitionError(refusal(command, unit, from));
  return spec.to;
}

/**
 * Whether a unit may be given `to` as its desired state through the API. Templates
 * (`foo@.service`) are never scheduled: fleet refused with `cannot activate template`.
 */
export function desiredStateProblem(
  isTemplate: boolean,
  unit: string,
  to: DesiredState,
): string | undefined {
  if (isTemplate && to !== "inactive") {
    return `cannot activate template ${JSON.stringify(unit)}: start an instance of it instead, e.g. ${unit.replace("@.", "@1.")}`;
  }
  return undefined;
}
