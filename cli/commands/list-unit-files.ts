/**
 * `fleetctl list-unit-files`: every unit in the cluster, whether or not it is placed, with
 * (fleet-ts) the scheduler's reason for a unit that is not where it should be (`--fields` with
 * `reason`). `--watch` redraws on every change.
 */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import {
  DEFAULT_UNIT_FILE_FIELDS,
  type Machines,
  needsMachines,
  UNIT_FILE_FIELDS,
  unitFileRows,
} from "../list-views.js";
import {
  fieldKeys,
  type OutputFormat,
  outputOption,
  parseFields,
  printJson,
  renderTable,
} from "../output.js";
import { listUnitsAndMachines } from "../snapshot.js";
import { watchCluster } from "../watch.js";
import { sortedUnits } from "../watch-model.js";
import type { WireUnit } from "../wire.js";

interface Opts {
  full?: boolean;
  legend: boolean;
  fields: string;
  output: OutputFormat;
  watch?: boolean;
}

export const registerListUnitFiles: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("list-unit-files")
    .summary("List the units that exist in the cluster.")
    .description(
      "Lists all unit files that exist in the cluster (whether or not they are loaded onto a machine).\n\nThe REASON field (--fields=unit,dstate,state,reason) says why the scheduler has not placed\na unit where it should be.",
    )
    .option("-l, --full", "Do not ellipsize fields on output")
    .option("--no-legend", "Do not print a legend (column headers)")
    .option(
      "--fields <fields>",
      `Columns to print for each Unit file. Valid fields are "${fieldKeys(UNIT_FILE_FIELDS)}"`,
      DEFAULT_UNIT_FILE_FIELDS,
    )
    .addOption(outputOption())
    .option(
      "-w, --watch",
      "Keep running; redraw on every change (with -o json: one event per line)",
    )
    .action(
      act<Opts>(runner, async (_args, opts) => {
        const cols = parseFields(ctx, opts.fields, new Set(Object.keys(UNIT_FILE_FIELDS)));
        if (cols === undefined) return 1;
        if (cols.includes("tmachine")) {
          ctx.io.stderr(line('WARNING: The "tmachine" field is deprecated. Use "target" instead'));
        }
        const full = opts.full === true;
        if (opts.watch) {
          return watchCluster(ctx, {
            kinds: needsMachines(cols) ? ["unit", "machine"] : ["unit"],
            json: opts.output === "json",
            render: (m) =>
              renderTable(cols, unitFileRows(sortedUnits(m), cols, full, m.machines), !opts.legend),
          });
        }
        let units: WireUnit[];
        let machines: Machines;
        try {
          ({ units, machines } = await listUnitsAndMachines(
            ctx.api(),
            needsMachines(cols) && opts.output !== "json",
          ));
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error retrieving list of units from repository: ${err.message}`));
          return 1;
        }
        if (opts.output === "json") {
          printJson(ctx, units);
          return 0;
        }
        ctx.io.stdout(renderTable(cols, unitFileRows(units, cols, full, machines), !opts.legend));
        return 0;
      }),
    );
};
