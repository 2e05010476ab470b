import { describe, expect, it } from "vitest";
import {
  COMMANDS,
  commandTarget,
  DesiredStateSchema,
  desiredStateProblem,
  TransitionError,
} from "./desired-state.js";

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
    ["stop", "inactive", "cannot stop a.service: it is inactive"],
    ["stop", undefined, "cannot stop a.service: submit it first"],
    ["submit", "loaded", "cannot submit a.service: it is already submitted"],
    ["unload", "inactive", "cannot unload a.service: it is inactive"],
    ["destroy", undefined, "cannot destroy a.service: submit it first"],
  ] as const)("%s from %s is refused", (command, from, message) => {
    expect(() => commandTarget(command, "a.service", from)).toThrow(new TransitionError(message));
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
