/**
 * The pure scheduler at scale (issue: cluster state). Run: npx tsx bench/scheduler.ts
 * 1,000 machines, 10,000 units: a first pass placing everything, a second pass over its own
 * result (the steady state: nothing to change), and a pass after one machine is lost.
 */
import type { UnitRequirements } from "../units/requirements.js";
import { planSchedule } from "../units/scheduler/index.js";
import type { ClusterSnapshot, SchedulerUnit } from "../units/scheduler/snapshot.js";
import { fmt, median, timeRuns } from "./stats.js";

const MACHINES = Number(process.env.MACHINES ?? 1000);
const UNITS = Number(process.env.UNITS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 5);

const regions = ["eu-west", "eu-north", "us-east", "ap-south"];
const machines = Array.from({ length: MACHINES }, (_, i) => ({
  id: i.toString(16).padStart(32, "0"),
  metadata: { region: regions[i % regions.length] as string, disk: i % 3 === 0 ? "ssd" : "hdd" },
}));
const none: UnitRequirements = {
  machineId: undefined,
  metadata: {},
  conflicts: [],
  peers: [],
  replaces: [],
  global: false,
};
// A realistic mix: most units plain; 100 services of 20 instances each whose instances must
// not share a machine (Conflicts=web-<g>@*); a sidekick (MachineOf) per instance; metadata
// constraints; a few global units.
const units: SchedulerUnit[] = Array.from({ length: UNITS }, (_, i) => {
  const kind = i % 10;
  const group = Math.floor(i / 10) % 100;
  const name =
    kind < 2
      ? `web-${group}@${i}.service`
      : kind === 2
        ? `sidekick-${group}@${i - 1}.service`
        : `app-${i}.service`;
  const requirements: UnitRequirements =
    kind < 2
      ? { ...none, conflicts: [`web-${group}@*.service`] }
      : kind === 2
        ? { ...none, peers: [`web-${group}@${i - 1}.service`] }
        : kind === 3
          ? { ...none, metadata: { region: ["eu-west", "eu-north"], disk: ["ssd"] } }
          : none;
  return { name, desiredState: "launched", requirements };
});
for (let g = 0; g < 5; g++) {
  units.push({
    name: `global-${g}.service`,
    desiredState: "launched",
    requirements: { ...none, global: true },
  });
}

const empty: ClusterSnapshot = { machines, units, schedule: {} };
let placed: Record<string, readonly string[]> = {};
const first = timeRuns(() => {
  placed = planSchedule(empty).placements;
}, RUNS);
const steadySnap: ClusterSnapshot = { machines, units, schedule: placed };
let steadyChanges = -1;
const steady = timeRuns(() => {
  steadyChanges = planSchedule(steadySnap).changes.length;
}, RUNS);
const lossSnap: ClusterSnapshot = { machines: machines.slice(1), units, schedule: placed };
let moved = 0;
const loss = timeRuns(() => {
  moved = planSchedule(lossSnap).changes.filter((c) => c.type === "schedule").length;
}, RUNS);

const plan = planSchedule(empty);
const unschedulable = Object.keys(plan.unschedulable).length;
console.log(`${MACHINES} machines, ${units.length} units (5 global), median of ${RUNS} runs:`);
console.log("| pass | median | result |");
console.log("|---|---|---|");
console.log(
  `| first pass: place everything | ${fmt(median(first))} ms | ${Object.keys(plan.placements).length} units placed, ${unschedulable} unschedulable |`,
);
console.log(
  `| steady state: nothing changed | ${fmt(median(steady))} ms | ${steadyChanges} changes |`,
);
console.log(`| one machine lost | ${fmt(median(loss))} ms | ${moved} placements made |`);
console.log(`heap used after: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
