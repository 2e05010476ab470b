#!/usr/bin/env node
/**
 * fleet-cloudinit: applies a `#cloud-config` document to this host (or validates it, or prints
 * the plan). Flags follow coreos-cloudinit where they make sense here; see docs/cloud-config.md.
 * Exit codes: 0 done (or valid), 1 invalid document or failed apply, 2 bad usage.
 */
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { z } from "zod";
import { applyPlan, readAccounts } from "./apply.js";
import { parseUserData } from "./document.js";
import { CloudConfigError, CloudConfigInputError } from "./errors.js";
import { describeAction, type Plan, planCloudConfig } from "./plan.js";
import { readFromFile, readFromStdin, readFromUrl } from "./source.js";
import { STATE_TARGET, writeRunState } from "./state-file.js";
import { type Substitutions, substitute } from "./substitute.js";
import { SystemdUnitManager } from "./unit-manager.js";
import { validateDocument } from "./validate.js";
import { lineOfField } from "./yaml-tree.js";

const flagsSchema = z.object({
  fromFile: z.string().min(1).optional(),
  fromUrl: z.string().min(1).optional(),
  validate: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  root: z.string().min(1).optional(),
  bus: z.string().min(1).optional(),
  strict: z.boolean().optional(),
  ignoreFailure: z.boolean().optional(),
  publicIpv4: z.ipv4().optional(),
  privateIpv4: z.ipv4().optional(),
  publicIpv6: z.ipv6().optional(),
  privateIpv6: z.ipv6().optional(),
});
type Flags = z.infer<typeof flagsSchema>;

/** commander's camelCase option name → the flag as typed. */
function flagName(key: PropertyKey | undefined): string {
  return `--${String(key ?? "")
    .replace(/[A-Z0-9]+/g, (m) => `-${m.toLowerCase()}`)
    .replace(/v-4|v-6/, (m) => m.replace("-", ""))}`;
}

class UsageError extends CloudConfigError {
  override name = "UsageError";
}

async function readSource(flags: Flags): Promise<{ name: string; bytes: Buffer }> {
  if (flags.fromFile !== undefined && flags.fromUrl !== undefined) {
    throw new UsageError("give one of --from-file and --from-url, not both");
  }
  if (flags.fromUrl !== undefined)
    return { name: flags.fromUrl, bytes: await readFromUrl(flags.fromUrl) };
  if (flags.fromFile === "-" || (flags.fromFile === undefined && !process.stdin.isTTY)) {
    return { name: "stdin", bytes: await readFromStdin() };
  }
  if (flags.fromFile === undefined) {
    throw new UsageError(
      "no user data: give --from-file PATH, --from-file - (stdin) or --from-url URL",
    );
  }
  return { name: flags.fromFile, bytes: readFromFile(flags.fromFile) };
}

async function run(flags: Flags): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const root = path.resolve(flags.root ?? "/");
  const source = await readSource(flags);
  const subs: Substitutions = {
    ...(flags.publicIpv4 === undefined ? {} : { public_ipv4: flags.publicIpv4 }),
    ...(flags.privateIpv4 === undefined ? {} : { private_ipv4: flags.privateIpv4 }),
    ...(flags.publicIpv6 === undefined ? {} : { public_ipv6: flags.publicIpv6 }),
    ...(flags.privateIpv6 === undefined ? {} : { private_ipv6: flags.privateIpv6 }),
  };
  const text = substitute(source.bytes.toString("utf8"), subs);
  const doc = parseUserData(text);
  const report = validateDocument(doc);
  for (const e of report.entries) err(`${source.name}:${e.line}: ${e.kind}: ${e.message}`);
  if (flags.validate) {
    if (report.hasErrors) return 1;
    return flags.strict && report.entries.some((e) => e.kind === "warning") ? 1 : 0;
  }
  switch (doc.kind) {
    case "empty":
      out(`${source.name}: empty user data; nothing to do`);
      return 0;
    case "ignition":
      out(
        `${source.name}: an Ignition config; fleet-cloudinit applies only #cloud-config. Nothing to do`,
      );
      return 0;
    case "script":
      err(
        `${source.name}: a script (#!); fleet-cloudinit applies only #cloud-config documents and runs no scripts`,
      );
      return 1;
    default:
      break;
  }
  if (report.hasErrors) {
    const n = report.entries.filter((e) => e.kind === "error").length;
    err(`${source.name}: refusing to apply: ${n} error(s) above; nothing was changed`);
    return 1;
  }
  const located = (e: CloudConfigInputError) => {
    const line = lineOfField(doc.tree?.root, e.where.split(":")[0] ?? e.where);
    return new CloudConfigInputError(
      line === undefined ? source.name : `${source.name}:${line}`,
      e.message,
    );
  };
  let plan: Plan;
  try {
    plan = planCloudConfig(doc.config, readAccounts(root));
  } catch (e) {
    throw e instanceof CloudConfigInputError ? located(e) : e;
  }
  for (const i of plan.ignored) err(`${source.name}: not applied: ${i}`);
  if (flags.dryRun) {
    plan.actions.forEach((a, i) => {
      out(`${i + 1}. ${describeAction(a)}`);
    });
    if (plan.actions.length === 0) out("(no actions)");
    return 0;
  }
  const wantSystemd = flags.bus !== undefined || flags.root === undefined;
  const units = wantSystemd ? await SystemdUnitManager.connect(flags.bus) : undefined;
  try {
    const result = await applyPlan(plan, {
      root,
      ...(units ? { units } : {}),
      log: out,
      alsoWrites: [STATE_TARGET],
    });
    writeRunState(root, text, result);
    return 0;
  } catch (e) {
    throw e instanceof CloudConfigInputError ? located(e) : e;
  } finally {
    units?.close();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("fleet-cloudinit")
    .description("Apply a #cloud-config document (coreos-cloudinit compatible) to this host")
    .option("--from-file <path>", "read user data from a file (- for stdin)")
    .option("--from-url <url>", "download user data with an HTTP(S) GET")
    .option(
      "--validate",
      "validate the user data, print every problem with its line, apply nothing",
    )
    .option("--dry-run", "print the actions the document would take, apply nothing")
    .option("--root <dir>", "apply under this directory instead of / (no systemd unless --bus)")
    .option("--bus <address>", "systemd's D-Bus address (default: the system bus)")
    .option("--strict", "with --validate: warnings fail too (exit 1)")
    .option("--ignore-failure", "exit 0 even when the user data is malformed (as coreos-cloudinit)")
    .addOption(new Option("--public-ipv4 <addr>", "value of $public_ipv4 in the document"))
    .addOption(new Option("--private-ipv4 <addr>", "value of $private_ipv4 in the document"))
    .addOption(new Option("--public-ipv6 <addr>", "value of $public_ipv6 in the document"))
    .addOption(new Option("--private-ipv6 <addr>", "value of $private_ipv6 in the document"))
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  const parsed = flagsSchema.safeParse(program.opts());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      process.stderr.write(`fleet-cloudinit: ${flagName(issue.path[0])}: ${issue.message}\n`);
    }
    return 2;
  }
  const flags = parsed.data;
  try {
    const code = await run(flags);
    return code === 1 && flags.ignoreFailure ? 0 : code;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fleet-cloudinit: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CloudConfigError || (e instanceof Error && e.name.startsWith("Systemd"))) {
      process.stderr.write(`fleet-cloudinit: ${e.message}\n`);
      return flags.ignoreFailure ? 0 : 1;
    }
    throw e;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // Through the package's bin symlink too.
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`fleet-cloudinit: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
