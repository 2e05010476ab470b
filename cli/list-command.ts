/**
 * @module cli/list-command
 * What `list-units` and `list-unit-files` share: their flags (--full, --no-legend, --fields,
 * -o, --watch) and their run, either --watch redraws from the event stream or one listing,
 * printed as fleet's table or as JSON. The rows themselves are list-views'.
 */
import type { Command } from "commander";
import type { ApiClient } from "./api-client.js";
import { type Context, line } from "./context.js";
import { CliError } from "./errors.js";
import { type Machines, needsMachines } from "./list-views.js";
import { type OutputFormat, outputOption, printJson, renderTable } from "./output.js";
import { watchCluster } from "./watch.js";
import type { ClusterModel } from "./watch-model.js";

export interface ListOpts {
  full?: boolean;
  legend: boolean;
  fields: string;
  output: OutputFormat;
  watch?: boolean;
}

/** The list commands' flags; `fieldsHelp` and `defaultFields` are the command's own. */
export function addListOptions(cmd: Command, fieldsHelp: string, defaultFields: string): Command {
  return cmd
    .option("-l, --full", "Do not ellipsize fields on output")
    .option("--no-legend", "Do not print a legend (column headers)")
    .option("--fields <fields>", fieldsHelp, defaultFields)
    .addOption(outputOption())
    .option(
      "-w, --watch",
      "Keep running; redraw on every change (with -o json: one event per line)",
    );
}

/** How one list command reads and draws its items (units or unit states). */
export interface ListSource<T> {
  /** The event kind the items come from, for --watch. */
  readonly kind: "unit" | "state";
  /** The items of a watched cluster, in table order. */
  readonly fromModel: (model: ClusterModel) => T[];
  /** One listing; the machines only when `withMachines`. */
  readonly list: (
    api: ApiClient,
    withMachines: boolean,
  ) => Promise<{ items: T[]; machines: Machines }>;
  readonly rows: (
    items: readonly T[],
    cols: readonly string[],
    full: boolean,
    machines: Machines,
  ) => string[][];
}

/** Prints the `cols` (already checked) of every item, or follows them with --watch. */
export async function runList<T>(
  ctx: Context,
  opts: ListOpts,
  cols: readonly string[],
  source: ListSource<T>,
): Promise<number> {
  const full = opts.full === true;
  if (opts.watch) {
    return watchCluster(ctx, {
      kinds: needsMachines(cols) ? [source.kind, "machine"] : [source.kind],
      json: opts.output === "json",
      render: (m) =>
        renderTable(cols, source.rows(source.fromModel(m), cols, full, m.machines), !opts.legend),
    });
  }
  let items: T[];
  let machines: Machines;
  try {
    ({ items, machines } = await source.list(
      ctx.api(),
      needsMachines(cols) && opts.output !== "json",
    ));
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    ctx.io.stderr(line(`Error retrieving list of units from repository: ${err.message}`));
    return 1;
  }
  if (opts.output === "json") {
    printJson(ctx, items);
    return 0;
  }
  ctx.io.stdout(renderTable(cols, source.rows(items, cols, full, machines), !opts.legend));
  return 0;
}
