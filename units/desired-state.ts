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

export type UnitCommand = "submit" | "load" | "start" | "stop" | "unload" | "destroy";

/** What each command asks for, and from which states it may be given ("none" = not submitted). */
export const COMMANDS: Readonly<
  Record<
    UnitCommand,
    { readonly to: DesiredState | "none"; readonly from: readonly (DesiredState | "none")[] }
  >
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

/**
 * The state `command` takes `unit` to, from `current` (undefined = not submitted).
 * @throws TransitionError saying what to do instead.
 */
export function commandTarget(
  command: UnitCommand,
  unit: string,
  current: DesiredState | undefined,
): DesiredState | "none" {
  const spec = COMMANDS[command];
  const from = current ?? "none";
  if (!spec.from.includes(from)) {
    const hint =
      from === "none"
        ? "submit it first"
        : command === "submit"
          ? "it is already submitted"
          : `it is ${from}`;
    throw new TransitionError(`cannot ${command} ${unit}: ${hint}`);
  }
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
