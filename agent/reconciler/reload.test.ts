import { describe, expect, it } from "vitest";
import { type ChangedUnit, decideReload } from "./reload.js";

const written = (name: string, o: Partial<Extract<ChangedUnit, { change: "written" }>> = {}) =>
  ({
    change: "written",
    name,
    loadState: "loaded",
    heldBefore: false,
    enabled: false,
    ...o,
  }) as const;
const removed = (name: string, loadState: string) =>
  ({ change: "removed", name, loadState }) as const;

describe("decideReload", () => {
  it("skips the reload when systemd parsed every new file fresh and holds no removed one", () => {
    const d = decideReload([
      written("a.service"),
      written("b@1.service"),
      removed("c.service", "not-found"),
    ]);
    expect(d.needed).toBe(false);
  });

  it("skips it for a removed unit systemd holds nothing of (a not-found stub at most)", () => {
    expect(decideReload([removed("c.service", "not-found")]).needed).toBe(false);
  });

  it("reloads when a written unit still shows an older parsed copy", () => {
    const d = decideReload([written("a.service"), written("b.service", { heldBefore: true })]);
    expect(d).toEqual({ needed: true, reason: "systemd holds an older copy of b.service" });
  });

  it("reloads when systemd did not find a written file by itself", () => {
    const d = decideReload([written("a.service", { loadState: "not-found" })]);
    expect(d).toEqual({ needed: true, reason: "systemd did not find a.service" });
  });

  it("reloads when a written unit was enabled, so its [Install] reaches loaded targets", () => {
    const d = decideReload([written("a.service", { enabled: true })]);
    expect(d).toEqual({ needed: true, reason: "[Install] enabled for a.service" });
  });

  it("reloads when systemd still holds a removed unit (failed, or referenced)", () => {
    const d = decideReload([removed("c.service", "loaded"), removed("d.service", "bad-setting")]);
    expect(d).toEqual({ needed: true, reason: "systemd still holds removed c.service, d.service" });
  });

  it("names every reason at once", () => {
    const d = decideReload([
      written("a.service", { enabled: true }),
      removed("c.service", "loaded"),
    ]);
    expect(d.reason).toBe("[Install] enabled for a.service; systemd still holds removed c.service");
  });

  it("does not reload for a written file systemd found with errors: a reload would not fix it", () => {
    expect(decideReload([written("a.service", { loadState: "bad-setting" })]).needed).toBe(false);
  });

  it("an empty batch needs nothing", () => {
    expect(decideReload([]).needed).toBe(false);
  });
});
