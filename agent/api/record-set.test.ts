import { describe, expect, it } from "vitest";
import { KeyLayout } from "../registry/keys.js";
import { RecordSet } from "./record-set.js";

const keys = new KeyLayout("/t/");
const M = "e".repeat(32);
const H = "f".repeat(40);
const put = (set: RecordSet, key: string, value: unknown) =>
  set.apply(key, Buffer.from(JSON.stringify(value)));
const unit = (name: string, extra: object[] = []) => ({
  name,
  hash: H,
  desiredState: "launched",
  options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }, ...extra],
});

describe("RecordSet: registry records as fleet's wire objects", () => {
  it("derives a unit's machine and currentState from its placement and reported state", () => {
    const set = new RecordSet(keys);
    expect(put(set, keys.unit("a.service"), unit("a.service"))).toEqual({
      kind: "unit",
      name: "a.service",
    });
    expect(set.wireUnit("a.service")).toMatchObject({ currentState: "inactive" });
    expect("machineID" in (set.wireUnit("a.service") ?? {})).toBe(false);
    put(set, keys.placement("a.service", M), { desiredState: "launched" });
    expect(set.wireUnit("a.service")).toMatchObject({ machineID: M, currentState: "inactive" });
    expect(
      put(set, keys.state("a.service", M), {
        loadState: "loaded",
        activeState: "active",
        subState: "running",
        hash: H,
        since: 0,
      }),
    ).toEqual({ kind: "state", name: "a.service", machineId: M });
    expect(set.wireUnit("a.service")).toMatchObject({ machineID: M, currentState: "launched" });
    set.apply(keys.placement("a.service", M), undefined);
    expect(set.wireUnit("a.service")).toMatchObject({ currentState: "inactive" });
  });

  it("shows a global unit without machine, and a reason only when there is one", () => {
    const set = new RecordSet(keys);
    put(
      set,
      keys.unit("g.service"),
      unit("g.service", [{ section: "X-Fleet", name: "Global", value: "true" }]),
    );
    put(set, keys.schedule(M, "g.service"), { hash: H, desiredState: "launched" });
    expect(set.machinesOf("g.service")).toEqual([M]);
    expect("machineID" in (set.wireUnit("g.service") ?? {})).toBe(false);
    put(set, keys.unschedulable("g.service"), { reason: "no machine has x=y", since: 1 });
    expect(set.wireUnit("g.service")?.reason).toBe("no machine has x=y");
  });

  it("merges metadata overrides and marks a drained machine", () => {
    const set = new RecordSet(keys);
    put(set, keys.machine(M), {
      id: M,
      publicIP: "1.2.3.4",
      metadata: { b: "2", a: "1" },
      version: "t",
      startedAt: 0,
    });
    put(set, keys.metadata(M), { a: null, c: "3" });
    expect(set.wireMachine(M)).toEqual({
      id: M,
      metadata: { b: "2", c: "3" },
      primaryIP: "1.2.3.4",
    });
    expect(put(set, keys.drain(M), { since: 5 })).toEqual({ kind: "machine", id: M });
    expect(set.wireMachine(M)?.draining).toBe(true);
  });

  it("reports an unreadable value with its key and keeps what it had", () => {
    const set = new RecordSet(keys);
    put(set, keys.unit("a.service"), unit("a.service"));
    expect(set.apply(keys.unit("a.service"), Buffer.from("{nope"))).toEqual({
      key: keys.unit("a.service"),
      problem: "not JSON",
    });
    expect(set.wireUnit("a.service")?.name).toBe("a.service");
    expect(put(set, keys.unit("b.service"), unit("other.service"))).toMatchObject({
      problem: expect.stringMatching(/differs from its key/),
    });
    expect(set.apply("/elsewhere/units/x", Buffer.from("{}"))).toBeUndefined();
    expect(set.apply(keys.election, Buffer.from("x"))).toBeUndefined();
  });
});
