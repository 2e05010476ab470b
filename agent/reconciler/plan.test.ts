import { describe, expect, it } from "vitest";
import { type CurrentUnit, type DesiredUnit, planTasks } from "./plan.js";

const H1 = "1".repeat(40);
const H2 = "2".repeat(40);
const want = (
  name: string,
  desiredState: DesiredUnit["desiredState"],
  hash = H1,
  text: string | undefined = "[Service]\nExecStart=/bin/true\n",
): [string, DesiredUnit] => [name, { name, hash, desiredState, text }];
const have = (
  name: string,
  fileHash: string | undefined,
  activeState: string,
  launched: boolean,
): [string, CurrentUnit] => [name, { name, fileHash, activeState, launched }];
const kinds = (tasks: ReturnType<typeof planTasks>) =>
  tasks.map((t) => (t.type === "reload" ? "reload" : `${t.type} ${t.unit}`));

describe("the agent's task planner", () => {
  it("loads and starts a new launched unit: write, one reload, start", () => {
    const tasks = planTasks(
      new Map([want("a.service", "launched"), want("b.service", "loaded")]),
      new Map(),
    );
    expect(kinds(tasks)).toEqual([
      "write a.service",
      "write b.service",
      "reload",
      "start a.service",
    ]);
    expect(tasks[0]).toMatchObject({ reason: "unit scheduled here but not loaded", hash: H1 });
  });
  it("does nothing when everything is as scheduled", () => {
    const tasks = planTasks(
      new Map([want("a.service", "launched"), want("b.service", "loaded")]),
      new Map([have("a.service", H1, "active", true), have("b.service", H1, "inactive", false)]),
    );
    expect(tasks).toEqual([]);
  });
  it("does not restart a unit that crashed after we started it (systemd's Restart= owns that)", () => {
    expect(
      planTasks(
        new Map([want("a.service", "launched")]),
        new Map([have("a.service", H1, "failed", true)]),
      ),
    ).toEqual([]);
  });
  it("stops a unit whose desired state became loaded", () => {
    const tasks = planTasks(
      new Map([want("a.service", "loaded")]),
      new Map([have("a.service", H1, "active", true)]),
    );
    expect(tasks).toEqual([
      { type: "stop", unit: "a.service", reason: "desired state loaded but unit running" },
    ]);
  });
  it("stops, unloads and reloads once for units no longer scheduled here", () => {
    const tasks = planTasks(
      new Map(),
      new Map([
        have("a.service", H1, "active", true),
        have("b.service", H1, "inactive", false),
        have("c.service", undefined, "failed", false),
      ]),
    );
    expect(kinds(tasks)).toEqual([
      "stop a.service",
      "unload a.service",
      "unload b.service",
      "reload",
    ]);
  });
  it("replaces a changed unit file: stop, write, reload, start", () => {
    const tasks = planTasks(
      new Map([want("a.service", "launched", H2)]),
      new Map([have("a.service", H1, "active", true)]),
    );
    expect(kinds(tasks)).toEqual([
      "stop a.service",
      "write a.service",
      "reload",
      "start a.service",
    ]);
    expect(tasks[1]).toMatchObject({ reason: "unit file changed" });
  });
  it("adopts a running unit after an agent restart without touching it", () => {
    // After a restart the agent marks units systemd reports active as launched.
    expect(
      planTasks(
        new Map([want("a.service", "launched")]),
        new Map([have("a.service", H1, "active", true)]),
      ),
    ).toEqual([]);
  });
  it("waits for a unit's text before acting on it", () => {
    const unknown = {
      name: "a.service",
      hash: H1,
      desiredState: "launched" as const,
      text: undefined,
    };
    expect(planTasks(new Map([["a.service", unknown]]), new Map())).toEqual([]);
  });
});
