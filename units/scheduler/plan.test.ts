import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { globMatches } from "../glob.js";
import { hasMetadata, matchesMachineId } from "../machine-metadata.js";
import { type UnitRequirements, unitRequirements } from "../requirements.js";
import { parseUnitFile } from "../unit-file.js";
import { planSchedule } from "./plan.js";
import type { ClusterSnapshot, SchedulePlan, SchedulerUnit } from "./snapshot.js";

interface Scenario {
  id: string;
  description: string;
  machines: { id: string; metadata: Record<string, string> | null }[] | null;
  units: { name: string; unit: string; target_state: string; scheduled_to: string }[] | null;
  job: string;
  engine_outcomes: {
    decision: { machine: string; error: string | null };
    acceptable_machines: string[] | null;
    global_placement?: string[] | null;
  }[];
  reconcile_outcomes: { registry_after_tasks: Record<string, string> }[];
  agent_view: Record<string, string[]>;
}
const scenarios = (
  JSON.parse(
    readFileSync(new URL("../../test/fixtures/scheduling.json", import.meta.url), "utf8"),
  ) as {
    scenarios: Scenario[];
  }
).scenarios;

/** Where fleet-ts fixes fleet (test/fixtures/VECTORS-README.md policy; docs/scheduling.md). */
const DIFFERENCES: Record<string, { trap: string; check: (plan: SchedulePlan) => void }> = {
  "mo-02": {
    trap: "#16 MachineOf chains resolve in one pass",
    check: (p) => {
      // fleet needed a second pass to place app.service next to db.service.
      expect(p.placements["db.service"]).toEqual(["a"]);
      expect(p.placements["app.service"]).toEqual(["a"]);
    },
  },
  "gl-04": {
    trap: "#15 one decision about a global unit that conflicts, made by the engine",
    check: (p) => {
      // fleet's agent ran global.service on b too and silently dropped legacy.service there.
      expect(p.placements["global.service"]).toEqual(["a", "c"]);
      expect(p.placements["legacy.service"]).toEqual(["b"]);
    },
  },
  "rp-02": {
    trap: "#14 a unit never lands next to the unit that Replaces it",
    check: (p) => {
      // fleet put new.service next to old.service (which Replaces it) and moved one later.
      expect(p.placements["old.service"]).toEqual(["a"]);
      expect(p.placements["new.service"]).toEqual(["b"]);
    },
  },
  "rp-04": {
    trap: "#14 the replaced unit moves away in the same pass",
    check: (p) => {
      // fleet left v2 next to v1 after this pass and moved one of them (either) on the next.
      expect(p.placements["v2-app.service"]).toEqual(["a"]);
      expect(p.placements["v1-app.service"]).toEqual(["b"]);
      expect(p.changes).toContainEqual({
        type: "unschedule",
        unit: "v1-app.service",
        machine: "a",
        reason: "moved away: v2-app.service Replaces it",
      });
    },
  },
  "rp-06": {
    trap: "#14 the replaced unit moves away, deterministically",
    check: (p) => {
      // fleet unscheduled both; the replacing unit keeps the only machine.
      expect(p.placements["new.service"]).toEqual(["a"]);
      expect(p.placements["old.service"]).toBeUndefined();
      expect(p.unschedulable["old.service"]).toBe(
        "1 machine excluded by the Replaces= of new.service",
      );
    },
  },
};

function snapshotOf(s: Scenario): ClusterSnapshot {
  const units: SchedulerUnit[] = (s.units ?? []).map((u) => ({
    name: u.name,
    desiredState:
      u.target_state === "" ? "launched" : (u.target_state as SchedulerUnit["desiredState"]),
    requirements: unitRequirements(u.name, parseUnitFile(u.unit).options),
  }));
  const schedule: Record<string, string[]> = {};
  for (const u of s.units ?? []) if (u.scheduled_to !== "") schedule[u.name] = [u.scheduled_to];
  // fleet never stored where global units run; its agents ran them there: that is where ours
  // already are when the scenario starts.
  for (const u of units) {
    if (!u.requirements.global || u.name === s.job || u.desiredState === "inactive") continue;
    const on = Object.entries(s.agent_view ?? {})
      .filter(([, names]) => names.includes(u.name))
      .map(([m]) => m);
    if (on.length > 0) schedule[u.name] = on;
  }
  return {
    machines: (s.machines ?? []).map((m) => ({ id: m.id, metadata: m.metadata ?? {} })),
    units,
    schedule,
  };
}

describe("scheduling.json: fleet's own answers", () => {
  const same = scenarios.filter((s) => !(s.id in DIFFERENCES));

  it.each(same)("$id: $description", (s) => {
    const snap = snapshotOf(s);
    const plan = planSchedule(snap);
    const unit = (name: string) => snap.units.find((u) => u.name === name);
    const isGlobal = (name: string) => unit(name)?.requirements.global === true;

    // Ordinary units end where fleet's reconciler put them (any of its outcomes).
    const ours = Object.fromEntries(
      (s.units ?? [])
        .filter((u) => !isGlobal(u.name))
        .map((u) => [u.name, plan.placements[u.name]?.[0] ?? ""]),
    );
    const fleets = s.reconcile_outcomes.map((o) =>
      Object.fromEntries(Object.entries(o.registry_after_tasks).filter(([k]) => !isGlobal(k))),
    );
    expect(fleets).toContainEqual(ours);

    // The job goes to a machine in fleet's tie set, or nowhere when fleet found none.
    if (s.job !== "" && unit(s.job)?.desiredState !== "inactive") {
      if (isGlobal(s.job)) {
        const fleetPlaces = s.engine_outcomes.map((o) => [...(o.global_placement ?? [])].sort());
        expect(fleetPlaces).toContainEqual(plan.placements[s.job] ?? []);
      } else {
        const acceptable = s.engine_outcomes.flatMap((o) =>
          o.decision.error === null ? (o.acceptable_machines ?? []) : [""],
        );
        expect(acceptable).toContain(plan.placements[s.job]?.[0] ?? "");
        if (plan.placements[s.job] === undefined) expect(plan.unschedulable[s.job]).toBeTruthy();
      }
    }

    // Active global units run where fleet's agents ran them.
    for (const u of snap.units.filter(
      (x) => x.requirements.global && x.desiredState !== "inactive",
    )) {
      const fleetOn = Object.entries(s.agent_view ?? {})
        .filter(([, names]) => names.includes(u.name))
        .map(([m]) => m)
        .sort();
      expect(plan.placements[u.name] ?? []).toEqual(fleetOn);
    }
  });

  it.each(Object.entries(DIFFERENCES))("%s differs on purpose: %o", (id, { check }) => {
    const s = scenarios.find((x) => x.id === id) as Scenario;
    check(planSchedule(snapshotOf(s)));
  });

  it("covers every scenario", () => {
    expect(scenarios).toHaveLength(41);
  });
});

const NONE: UnitRequirements = {
  machineId: undefined,
  metadata: {},
  conflicts: [],
  peers: [],
  replaces: [],
  global: false,
};
const unit = (
  name: string,
  req: Partial<UnitRequirements> = {},
  desiredState: SchedulerUnit["desiredState"] = "launched",
): SchedulerUnit => ({ name, desiredState, requirements: { ...NONE, ...req } });
const machine = (id: string, metadata: Record<string, string> = {}) => ({ id, metadata });

describe("planSchedule rules", () => {
  it("spreads units over the least-loaded machines, ties to the smallest ID", () => {
    const plan = planSchedule({
      machines: [machine("m2"), machine("m10"), machine("m9")],
      units: [unit("a.service"), unit("b.service"), unit("c.service"), unit("d.service")],
      schedule: {},
    });
    expect(plan.placements).toEqual({
      "a.service": ["m10"],
      "b.service": ["m2"],
      "c.service": ["m9"],
      "d.service": ["m10"],
    });
    expect(plan.changes[0]).toEqual({
      type: "schedule",
      unit: "a.service",
      machine: "m10",
      reason: "least-loaded eligible machine",
    });
  });

  it("honours MachineID (full or short) and says when nothing matches", () => {
    const long = "0123456789abcdef0123456789abcdef";
    const plan = planSchedule({
      machines: [machine(long), machine("ffff")],
      units: [
        unit("a.service", { machineId: "01234567" }),
        unit("b.service", { machineId: "nope" }),
      ],
      schedule: {},
    });
    expect(plan.placements["a.service"]).toEqual([long]);
    expect(plan.unschedulable["b.service"]).toBe("no machine matches MachineID=nope");
  });

  it("honours MachineMetadata and explains a miss", () => {
    const plan = planSchedule({
      machines: [machine("a", { region: "us" }), machine("b", { region: "eu", disk: "hdd" })],
      units: [
        unit("eu.service", { metadata: { region: ["eu"] } }),
        unit("mars.service", { metadata: { region: ["mars"] } }),
        unit("ssd.service", { metadata: { region: ["eu", "us"], disk: ["ssd"] } }),
      ],
      schedule: {},
    });
    expect(plan.placements["eu.service"]).toEqual(["b"]);
    expect(plan.unschedulable["mars.service"]).toBe("no machine has region=mars");
    expect(plan.unschedulable["ssd.service"]).toBe("no machine has disk=ssd");
  });

  it("never collocates conflicting units, in both directions, and names them", () => {
    const plan = planSchedule({
      machines: [machine("a"), machine("b")],
      units: [
        unit("web@1.service", { conflicts: ["web@*.service"] }),
        unit("web@2.service", { conflicts: ["web@*.service"] }),
        unit("web@3.service", { conflicts: ["web@*.service"] }),
        unit("plain.service"),
        unit("shy.service", { conflicts: ["plain.service"] }),
      ],
      schedule: {},
    });
    expect(plan.placements["web@1.service"]).toEqual(["a"]);
    expect(plan.placements["web@2.service"]).toEqual(["b"]);
    expect(plan.unschedulable["web@3.service"]).toBe(
      "2 machines excluded by Conflicts=web@*.service (runs web@1.service, web@2.service)",
    );
    const plainAt = plan.placements["plain.service"]?.[0];
    expect(plan.placements["shy.service"]?.[0]).not.toBe(plainAt);
  });

  it("ignores inactive units in conflicts and unschedules inactive units", () => {
    const plan = planSchedule({
      machines: [machine("a")],
      units: [unit("x.service", { conflicts: ["y.service"] }), unit("y.service", {}, "inactive")],
      schedule: { "y.service": ["a"] },
    });
    expect(plan.placements).toEqual({ "x.service": ["a"] });
    expect(plan.changes).toContainEqual({
      type: "unschedule",
      unit: "y.service",
      machine: "a",
      reason: "desired state is inactive",
    });
  });

  it("places MachineOf chains in one pass and moves followers with their target", () => {
    const units = [
      unit("c.service", { peers: ["b.service"] }),
      unit("b.service", { peers: ["a.service"] }),
      unit("a.service"),
    ];
    const first = planSchedule({ machines: [machine("m1"), machine("m2")], units, schedule: {} });
    expect(first.placements).toEqual({
      "a.service": ["m1"],
      "b.service": ["m1"],
      "c.service": ["m1"],
    });
    // m1 is gone: the whole chain moves to m2 together.
    const second = planSchedule({ machines: [machine("m2")], units, schedule: first.placements });
    expect(second.placements).toEqual({
      "a.service": ["m2"],
      "b.service": ["m2"],
      "c.service": ["m2"],
    });
    expect(second.changes.filter((c) => c.type === "unschedule").map((c) => c.reason)).toEqual([
      "machine m1 is gone",
      "machine m1 is gone",
      "machine m1 is gone",
    ]);
  });

  it("says what a MachineOf follower waits for", () => {
    const plan = planSchedule({
      machines: [machine("a")],
      units: [
        unit("f1.service", { peers: ["missing.service"] }),
        unit("f2.service", { peers: ["off.service"] }),
        unit("off.service", {}, "inactive"),
        unit("f3.service", { peers: ["stuck.service"] }),
        unit("stuck.service", { machineId: "zzz" }),
      ],
      schedule: {},
    });
    expect(plan.unschedulable).toEqual({
      "f1.service": "waiting for MachineOf=missing.service, which is not submitted",
      "f2.service": "waiting for MachineOf=off.service, which is inactive",
      "f3.service": "waiting for MachineOf=stuck.service to be scheduled",
      "stuck.service": "no machine matches MachineID=zzz",
    });
  });

  it("moves a replaced unit away from its replacement", () => {
    const plan = planSchedule({
      machines: [machine("a"), machine("b")],
      units: [unit("new.service", { replaces: ["old.service"] }), unit("old.service")],
      schedule: { "new.service": ["a"], "old.service": ["a"] },
    });
    expect(plan.placements).toEqual({ "new.service": ["a"], "old.service": ["b"] });
  });

  it("expands global units to every eligible machine, following machines that join and leave", () => {
    const units = [
      unit("agent.service", { global: true, metadata: { role: ["worker"] } }),
      unit("web.service", { conflicts: ["agent.service"] }),
    ];
    const m = [machine("a", { role: "worker" }), machine("b", { role: "worker" }), machine("c")];
    const first = planSchedule({ machines: m, units, schedule: {} });
    expect(first.placements).toEqual({ "web.service": ["a"], "agent.service": ["b"] });
    const joined = planSchedule({
      machines: [...m, machine("d", { role: "worker" })],
      units,
      schedule: first.placements,
    });
    expect(joined.placements["agent.service"]).toEqual(["b", "d"]);
    expect(joined.changes).toEqual([
      {
        type: "schedule",
        unit: "agent.service",
        machine: "d",
        reason: "global unit: this machine is eligible",
      },
    ]);
    const left = planSchedule({
      machines: [m[0], m[2]] as typeof m,
      units,
      schedule: joined.placements,
    });
    expect(left.placements["agent.service"]).toBeUndefined();
    expect(left.unschedulable["agent.service"]).toBe(
      "1 machine lacks role=worker; 1 machine excluded by the Conflicts= of web.service",
    );
  });

  it("reschedules the units of a machine that is gone, and keeps the others", () => {
    const units = [unit("a.service"), unit("b.service"), unit("c.service")];
    const plan = planSchedule({
      machines: [machine("m1"), machine("m3")],
      units,
      schedule: { "a.service": ["m1"], "b.service": ["m2"], "c.service": ["m3"] },
    });
    expect(plan.placements).toEqual({
      "a.service": ["m1"],
      "b.service": ["m1"],
      "c.service": ["m3"],
    });
    expect(plan.changes).toEqual([
      { type: "unschedule", unit: "b.service", machine: "m2", reason: "machine m2 is gone" },
      {
        type: "schedule",
        unit: "b.service",
        machine: "m1",
        reason: "least-loaded eligible machine",
      },
    ]);
  });

  it("places a unit that only fits once a replaced unit has moved away, in the same pass", () => {
    // Found by the property test: a.service was decided while web@1 (whose Conflicts exclude
    // it) still sat on the only machine; web@1 then left, replaced by web@2.
    const units = [
      unit("web@2.service", { replaces: ["web@1.service"] }),
      unit("a.service"),
      unit("web@1.service", { conflicts: ["a.service"] }),
    ];
    const snap = { machines: [machine("m1")], units, schedule: { "web@1.service": ["m1"] } };
    const plan = planSchedule(snap);
    expect(plan.placements).toEqual({ "a.service": ["m1"], "web@2.service": ["m1"] });
    expect(plan.unschedulable).toEqual({
      "web@1.service": "1 machine excluded by Conflicts=a.service (runs a.service)",
    });
    expect(planSchedule({ ...snap, schedule: plan.placements }).changes).toEqual([]);
  });

  it("unschedules destroyed units and reports an empty cluster", () => {
    const plan = planSchedule({
      machines: [],
      units: [unit("a.service")],
      schedule: { "gone.service": ["m"] },
    });
    expect(plan.changes).toEqual([
      { type: "unschedule", unit: "gone.service", machine: "m", reason: "unit destroyed" },
    ]);
    expect(plan.unschedulable).toEqual({ "a.service": "no machines in the cluster" });
  });
});

describe("planSchedule properties", () => {
  const names = [
    "a.service",
    "b.service",
    "web@1.service",
    "web@2.service",
    "g.service",
    "d.service",
  ];
  const req = fc.record({
    machineId: fc.option(fc.constantFrom("m1", "m2", "m3", "m4", "zz"), { nil: undefined }),
    metadata: fc.oneof(fc.constant({}), fc.constant({ r: ["x"] }), fc.constant({ r: ["x", "y"] })),
    conflicts: fc.subarray(["web@*.service", "a.service", "d*", "["]),
    peers: fc.subarray(["a.service", "d.service"], { maxLength: 1 }),
    replaces: fc.subarray(["b.service", "web@1.service"], { maxLength: 1 }),
    global: fc.boolean(),
  });
  const arbSnapshot = fc
    .record({
      machines: fc.uniqueArray(
        fc.record({
          id: fc.constantFrom("m1", "m2", "m3", "m4"),
          metadata: fc.constantFrom({}, { r: "x" }, { r: "y" }),
        }),
        { selector: (m) => m.id, maxLength: 4 },
      ),
      units: fc.uniqueArray(
        fc.record({
          name: fc.constantFrom(...names),
          desiredState: fc.constantFrom("launched", "loaded", "inactive"),
          requirements: req,
        }),
        { selector: (u) => u.name, maxLength: 6 },
      ),
      schedule: fc.dictionary(
        fc.constantFrom(...names),
        fc.subarray(["m1", "m2", "m3", "m4", "m9"]),
      ),
    })
    .map((s) => s as unknown as ClusterSnapshot);

  it("never breaks a hard rule, and a second pass changes nothing (2,000 random clusters)", () => {
    fc.assert(
      fc.property(arbSnapshot, (snap) => {
        const plan = planSchedule(snap);
        const units = new Map(snap.units.map((u) => [u.name, u]));
        const machines = new Map(snap.machines.map((m) => [m.id, m]));
        const on = new Map<string, string[]>();
        for (const [name, ms] of Object.entries(plan.placements)) {
          const u = units.get(name);
          expect(u).toBeDefined();
          expect(u?.desiredState).not.toBe("inactive");
          if (!u?.requirements.global) expect(ms).toHaveLength(1);
          for (const m of ms) {
            const machine = machines.get(m);
            expect(machine).toBeDefined();
            expect(hasMetadata(machine?.metadata ?? {}, u?.requirements.metadata ?? {})).toBe(true);
            if (!u?.requirements.global && u?.requirements.machineId !== undefined) {
              expect(matchesMachineId(m, u.requirements.machineId)).toBe(true);
            }
            on.set(m, [...(on.get(m) ?? []), name]);
          }
        }
        for (const [m, here] of on) {
          for (const x of here) {
            const ux = units.get(x) as SchedulerUnit;
            for (const y of here) {
              if (x === y) continue;
              for (const p of ux.requirements.conflicts) expect(globMatches(p, y)).toBe(false);
              if (!ux.requirements.global) {
                for (const p of ux.requirements.replaces) expect(globMatches(p, y)).toBe(false);
              }
            }
            if (!ux.requirements.global) {
              for (const peer of ux.requirements.peers) expect(plan.placements[peer]).toContain(m);
            }
          }
        }
        const again = planSchedule({ ...snap, schedule: plan.placements });
        expect(again.changes).toEqual([]);
        expect(again.placements).toEqual(plan.placements);
        expect(planSchedule(snap)).toEqual(plan);
      }),
      // FC_RUNS explores harder on demand (e.g. FC_RUNS=50000 before a release).
      { numRuns: Number(process.env.FC_RUNS ?? 2000) },
    );
  });
});
