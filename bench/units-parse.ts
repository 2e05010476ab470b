/**
 * Parse + hash of unit files (issue: Foundation). Run: npx tsx bench/units-parse.ts
 * Prints a Markdown table of medians over several runs.
 */
import { parseUnitFile, unitHash } from "../units/index.js";
import { fmt, median, timeRuns } from "./stats.js";

function typicalUnit(i: number): string {
  return `# generated unit ${i}
[Unit]
Description=Web server ${i}
After=docker.service
Requires=docker.service

[Service]
TimeoutStartSec=0
ExecStartPre=-/usr/bin/docker kill web${i}
ExecStartPre=-/usr/bin/docker rm web${i}
ExecStartPre=/usr/bin/docker pull nginx:1.${i % 30}
ExecStart=/usr/bin/docker run --name web${i} \\
  -p ${8000 + (i % 1000)}:80 nginx:1.${i % 30}
ExecStop=/usr/bin/docker stop web${i}
Restart=always

[X-Fleet]
Conflicts=web@*.service
MachineMetadata="region=eu-west" "disk=ssd"
`;
}

const units = Array.from({ length: 10_000 }, (_, i) => typicalUnit(i));
const bigLines = Array.from({ length: 20_000 }, (_, i) => `Environment=KEY_${i}=${"v".repeat(32)}`);
const big = `[Unit]\nDescription=one megabyte\n\n[Service]\n${bigLines.join("\n")}\n`;

const runs = Number(process.env.RUNS ?? 7);
const many = timeRuns(() => {
  for (const text of units) unitHash(parseUnitFile(text).options);
}, runs);
// fleetctl reads unit files from disk: the same files as bytes (UTF-8 decoding included).
const unitBytes = units.map((text) => Buffer.from(text));
const manyBytes = timeRuns(() => {
  for (const bytes of unitBytes) unitHash(parseUnitFile(bytes).options);
}, runs);
const one = timeRuns(() => {
  unitHash(parseUnitFile(big).options);
}, runs);

console.log(`| workload | median of ${runs} runs | per unit |`);
console.log("|---|---|---|");
console.log(
  `| parse + hash 10,000 typical unit files (${(units.join("").length / 1e6).toFixed(1)} MB) | ${fmt(median(many))} ms | ${fmt((median(many) * 1000) / units.length)} µs |`,
);
console.log(
  `| the same 10,000 files given as bytes | ${fmt(median(manyBytes))} ms | ${fmt((median(manyBytes) * 1000) / units.length)} µs |`,
);
console.log(
  `| parse + hash one ${(Buffer.byteLength(big) / 1e6).toFixed(2)} MB unit file (20,000 options) | ${fmt(median(one))} ms | — |`,
);
