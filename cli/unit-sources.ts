/**
 * @module cli/unit-sources
 * Where `submit`, `load` and `start` find a unit: already in the cluster, a file of that name
 * (relative to the working directory), or, for an instance `foo@1.service`, its template
 * `foo@.service` in the cluster or beside the named file (fleet's lazyCreateUnits order).
 * Parsing and validation are units/'s; this module only reads files and calls the API.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UnitsError } from "../units/errors.js";
import { parseUnitFile, serializeUnitFile, unitHash } from "../units/unit-file.js";
import { mangleUnitName, unitNameInfo } from "../units/unit-name.js";
import type { UnitOption } from "../units/unit-option.js";
import { unitProblem } from "../units/validate.js";
import { type Context, line } from "./context.js";
import { CliError } from "./errors.js";
import type { MachineCache } from "./machines.js";
import { settleInOrder } from "./parallel.js";
import { waitForUnitState } from "./waits.js";
import type { WireUnit } from "./wire.js";

/** A unit fleetctl could not find or read: the message is fleet's, with the file and line. */
export class UnitSourceError extends CliError {
  override name = "UnitSourceError";
}

function readUnitFile(path: string, shown: string): UnitOption[] {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (err) {
    throw new UnitSourceError(`cannot read ${shown}: ${(err as Error).message}`);
  }
  try {
    return [...parseUnitFile(text).options];
  } catch (err) {
    if (err instanceof UnitsError) throw new UnitSourceError(`${shown}: ${err.message}`);
    throw err;
  }
}

/** fleet's maybeAppendDefaultUnitType: `foo` → `foo.service`, paths kept. */
function withDefaultType(arg: string): string {
  const base = basename(arg);
  return mangleUnitName(base) === base ? arg : `${arg}.service`;
}

/** The options of the unit `arg` names, from a file or a template (fleet's getUnitFile). */
async function unitOptionsFor(
  ctx: Context,
  arg: string,
  name: string,
  templates: Map<string, Promise<WireUnit | undefined>>,
): Promise<UnitOption[]> {
  const path = resolve(ctx.io.cwd, arg);
  if (existsSync(path)) {
    try {
      return readUnitFile(path, arg);
    } catch (err) {
      if (err instanceof UnitSourceError)
        throw new UnitSourceError(`failed getting Unit(${arg}) from file: ${err.message}`);
      throw err;
    }
  }
  const info = unitNameInfo(name);
  if (info === undefined)
    throw new UnitSourceError(`error extracting information from unit name ${name}`);
  if (!info.isInstance)
    throw new UnitSourceError(`unable to find Unit(${name}) in Registry or on filesystem`);
  // One read per template for the whole command (fleet read it again for every instance).
  let lookup = templates.get(info.template);
  if (lookup === undefined) {
    lookup = ctx.api().unit(info.template);
    templates.set(info.template, lookup);
  }
  const tmpl = await lookup;
  if (tmpl !== undefined) return tmpl.options.map((o) => ({ ...o }));
  const tmplPath = join(dirname(path), info.template);
  if (!existsSync(tmplPath)) {
    throw new UnitSourceError(
      `failed getting Unit(${arg}) from template: unable to find template Unit(${info.template}) in Registry or on filesystem`,
    );
  }
  try {
    return readUnitFile(tmplPath, join(dirname(arg), info.template));
  } catch (err) {
    if (err instanceof UnitSourceError) {
      throw new UnitSourceError(
        `failed getting Unit(${arg}) from template: unable to load template Unit(${info.template}) from file: ${err.message}`,
      );
    }
    throw err;
  }
}

/** The local file's options when they differ from the submitted unit's (fleet warned then). */
function differentLocal(ctx: Context, arg: string, hash: string): UnitOption[] | undefined {
  const path = resolve(ctx.io.cwd, arg);
  if (!existsSync(path)) return undefined;
  try {
    const local = [...parseUnitFile(readFileSync(path)).options];
    return unitHash(local) === hash ? undefined : local;
  } catch {
    // An unreadable local copy of a unit that is already submitted changes nothing.
    return undefined;
  }
}

/** Which desired states --replace may replace a unit in, per command (fleet's table). */
const REPLACEABLE: Readonly<Record<string, readonly string[]>> = {
  submit: ["inactive"],
  load: ["inactive", "loaded"],
  start: ["inactive", "loaded", "launched"],
};

export interface CreateOptions {
  /** --block-attempts as given (fleet did not apply --no-block here). */
  readonly maxAttempts: number;
  /** --replace, with the command it was given to. */
  readonly replace?: { readonly command: "submit" | "load" | "start" };
}

/**
 * Makes sure every unit named exists in the cluster, submitting those that do not (and with
 * --replace, replacing those whose local file differs), and waits for each new one to report
 * `inactive` (fleet's lazyCreateUnits).
 */
export async function lazyCreateUnits(
  ctx: Context,
  machines: MachineCache,
  args: readonly string[],
  create: CreateOptions,
): Promise<void> {
  const waits: Promise<void>[] = [];
  const names = args.map((raw) => mangleUnitName(withDefaultType(raw)));
  // Looked up several at a time; each result is used where the sequential loop would have read it.
  const lookups = await settleInOrder(names, (name) => ctx.api().unit(name));
  const templates = new Map<string, Promise<WireUnit | undefined>>();
  const handled = new Set<string>();
  for (const [i, raw] of args.entries()) {
    const arg = withDefaultType(raw);
    const name = names[i] as string;
    const lookup = lookups[i] as PromiseSettledResult<WireUnit | undefined>;
    // Named twice: the second time, the unit is the one just created.
    let existing: WireUnit | undefined;
    if (handled.has(name)) existing = await ctx.api().unit(name);
    else if (lookup.status === "fulfilled") existing = lookup.value;
    else throw lookup.reason;
    handled.add(name);
    let options: UnitOption[];
    if (existing !== undefined) {
      const local = differentLocal(ctx, arg, unitHash(existing.options));
      if (local === undefined) continue;
      if (create.replace === undefined) {
        ctx.io.stderr(
          line(
            `WARNING: Unit ${name} in registry differs from local unit file ${arg}. Add --replace to override.`,
          ),
        );
        continue;
      }
      if (!REPLACEABLE[create.replace.command]?.includes(existing.desiredState)) {
        ctx.io.stderr(
          line(
            `Warning: can not replace Unit(${name}) in state '${existing.desiredState}', use the appropriate command`,
          ),
        );
        continue;
      }
      options = local;
    } else {
      options = await unitOptionsFor(ctx, arg, name, templates);
    }
    const problem = unitProblem(name, options);
    // An empty unit is left to the API, whose 409 fleet's users know from fleet.
    if (problem !== undefined && options.length > 0) {
      throw new UnitSourceError(`failed creating unit ${name}: ${problem}`);
    }
    try {
      await ctx.api().createUnit(name, options);
    } catch (err) {
      if (err instanceof CliError)
        throw new UnitSourceError(`failed creating unit ${name}: ${err.message}`);
      throw err;
    }
    waits.push(waitForUnitState(ctx, machines, name, "inactive", create.maxAttempts));
  }
  const results = await Promise.allSettled(waits);
  let failed = false;
  for (const r of results) {
    if (r.status === "rejected") {
      ctx.io.stderr(line(`Error waiting on unit creation: ${(r.reason as Error).message}`));
      failed = true;
    }
  }
  if (failed) throw new UnitSourceError("One or more errors creating units");
}

/** `cat`'s text: the unit file exactly as fleet serialized it. */
export function unitText(options: readonly UnitOption[]): string {
  return serializeUnitFile(options);
}
