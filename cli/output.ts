/**
 * @module cli/output
 * fleetctl's two ways to print: fleet's tables (chosen --fields, --no-legend, tab-aligned as
 * fleet's tabwriter did) and, beyond fleet, `-o json` for scripts.
 */
import { Option } from "commander";
import { type Context, goQuote, line } from "./context.js";
import { formatTable } from "./tabwriter.js";

export type OutputFormat = "table" | "json";

export function outputOption(): Option {
  return new Option("-o, --output <format>", "Output format: table (fleet's) or json")
    .choices(["table", "json"])
    .default("table");
}

/** JSON for scripts: one document, two-space indented, newline-terminated. */
export function printJson(ctx: Context, value: unknown): void {
  ctx.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The columns asked for with --fields, checked against `valid`; on a bad one, fleet's message
 * on stderr and undefined (the command exits 1, as fleet's did).
 */
export function parseFields(
  ctx: Context,
  flag: string,
  valid: ReadonlySet<string>,
): string[] | undefined {
  if (flag === "") {
    ctx.io.stderr(line("Must define output format"));
    return undefined;
  }
  const cols = flag.split(",");
  for (const c of cols) {
    if (!valid.has(c)) {
      ctx.io.stderr(line(`Invalid key in output format: ${goQuote(c)}`));
      return undefined;
    }
  }
  return cols;
}

/** fleet's table: an upper-cased legend row unless --no-legend, then the rows. */
export function renderTable(
  cols: readonly string[],
  rows: readonly (readonly string[])[],
  noLegend: boolean,
): string {
  const all = noLegend ? rows : [cols.map((c) => c.toUpperCase()), ...rows];
  return formatTable(all);
}

/** Go's sort.Strings order of a field table's keys, for the --fields help text. */
export function fieldKeys(table: Readonly<Record<string, unknown>>): string {
  return Object.keys(table).sort().join(",");
}
