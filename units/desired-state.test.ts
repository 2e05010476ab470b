import { describe, expect, it } from "vitest";
import {
  COMMANDS,
  CurrentStateSchema,
  commandTarget,
  DESIRED_STATES,
  DesiredStateSchema,
  desiredStateProblem,
  isDirectTransition,
  type Lifecycle,
  TransitionError,
  transitionSteps,
  type UnitCommand,
} from "./desired-state.js";
import { UnitsError } from "./errors.js";

describe("desired states (fleet's Documentation/states.md)", () => {
  it("has fleet's three states", () => {
    expect(DesiredStateSchema.options).toEqual(["inactive", "loaded", "launched"]);
    expect(DesiredStateSchema.safeParse("running").success).toBe(false);
  });
  it.each([
    ["submit", undefined, "inactive"],
    ["load", undefined, "loaded"],
    ["load", "inactive", "loaded"],
    ["start", undefined, "launched"],
    ["start", "inactive", "launched"],
    ["start", "loaded", "launched"],
    ["stop", "launched", "loaded"],
    ["unload", "launched", "inactive"],
    ["unload", "loaded", "inactive"],
    ["destroy", "inactive", "none"],
    ["destroy", "loaded", "none"],
    ["destroy", "launched", "none"],
  ] as const)("%s from %s gives %s", (command, from, to) => {
    expect(commandTarget(command, "a.service", from)).toBe(to);
  });
  it.each([
    [
      "stop",
      "inactive",
      "cannot stop a.service: it is inactive, not launched, so there is nothing to stop",
    ],
    [
      "stop",
      "loaded",
      "cannot stop a.service: it is loaded, not launched, so there is nothing to stop",
    ],
    ["stop", undefined, "cannot stop a.service: it is not submitted, so there is nothing to stop"],
    [
      "submit",
      "loaded",
      "cannot submit a.service: it is already submitted (loaded); destroy it first to submit another unit file under this name",
    ],
    ["load", "loaded", "cannot load a.service: it is already loaded"],
    [
      "load",
      "launched",
      "cannot load a.service: it is launched; use stop to keep it loaded but not running",
    ],
    ["start", "launched", "cannot start a.service: it is already launched"],
    ["unload", "inactive", "cannot unload a.service: it is already inactive"],
    [
      "destroy",
      undefined,
      "cannot destroy a.service: it is not submitted, so there is nothing to destroy",
    ],
  ] as const)("%s from %s is refused", (command, from, message) => {
    expect(() => commandTarget(command, "a.service", from)).toThrow(new TransitionError(message));
  });
  it("refuses exactly the moves states.md does not list, always with a UnitsError", () => {
    let refused = 0;
    for (const command of Object.keys(COMMANDS) as UnitCommand[]) {
      for (const from of [undefined, ...DESIRED_STATES]) {
        const allowed = COMMANDS[command].from.includes(from ?? "none");
        if (allowed) expect(commandTarget(command, "a.service", from)).toBe(COMMANDS[command].to);
        else {
          refused++;
          expect(() => commandTarget(command, "a.service", from)).toThrow(UnitsError);
        }
      }
    }
    expect(refused).toBe(24 - 12);
  });
  it("lists every command", () => {
    expect(Object.keys(COMMANDS).sort()).toEqual([
      "destroy",
      "load",
      "start",
      "stop",
      "submit",
      "unload",
    ]);
  });
  it("refuses to activate a template", () => {
    expect(desiredStateProblem(true, "web@.service", "launched")).toBe(
      'cannot activate template "web@.service": start an instance of it instead, e.g. web@1.service',
    );
    expect(desiredStateProblem(true, "web@.service", "inactive")).toBeUndefined();
    expect(desiredStateProblem(false, "web.service", "launched")).toBeUndefined();
  });
});

describe("transitions (states.md: only direct steps between neighbouring states)", () => {
  it.each([
    ["none", "inactive", true],
    ["inactive", "loaded", true],
    ["loaded", "launched", true],
    ["launched", "loaded", true],
    ["loaded", "inactive", true],
    ["inactive", "none", true],
    ["inactive", "launched", false],
    ["launched", "inactive", false],
    ["none", "loaded", false],
    ["loaded", "loaded", false],
  ] as const)("%s -> %s direct: %s", (from, to, direct) => {
    expect(isDirectTransition(from, to)).toBe(direct);
  });
  it.each([
    ["inactive", "launched", ["loaded", "launched"]],
    ["none", "launched", ["inactive", "loaded", "launched"]],
    ["loaded", "none", ["inactive", "none"]],
    ["launched", "inactive", ["loaded", "inactive"]],
    ["loaded", "loaded", []],
  ] as const)("%s -> %s passes through %j", (from, to, steps) => {
    expect(transitionSteps(from, to)).toEqual(steps);
    const path: Lifecycle[] = [from, ...transitionSteps(from, to)];
    for (const [i, state] of path.entries()) {
      if (i > 0) expect(isDirectTransition(path[i - 1] as Lifecycle, state)).toBe(true);
    }
  });
  it("has the same vocabulary for the current state", () => {
    expect(CurrentStateSchema.options).toEqual(DesiredStateSchema.options);
    expect(CurrentStateSchema.safeParse("").success).toBe(false);
  });
});
