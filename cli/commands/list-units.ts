/**
 * `fleetctl list-units`: what systemd reports for each unit on each machine. `--watch` redraws
 * on every change, from the API's event stream.
 */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import {
  DEFAULT_UNIT_STATE_FIELDS,
  type Machines,
  needsMachines,
  UNIT_STATE_FIELDS,
  unitStateRows,
} from "../list-views.js";
import {
  fieldKeys,
  type OutputFormat,
  outputOption,
  parseFields,
  printJson,
  renderTable,
} from "../output.js";
import { listStatesAndMachines } from "../snapshot.js";
import { watchCluster } from "../watch.js";
import { sortedStates } from "../watch-model.js";
import type { WireState } from "../wire.js";

interface Opts {
  full?: boolean;
  legend: boolean;
  fields: string;
  output: OutputFormat;
  watch?: boolean;
}

export const registerListUnits: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("list-units")
    .summary("List the current state of units in the cluster")
    .description(
      "Lists the state of all units in the cluster loaded onto a machine.\n\nFor easily parsable output, you can remove the column headers:\nfleetctl list-units --no-legend\n\nOutput the list without ellipses:\nfleetctl list-units --full\n\nOr, choose the columns to display:\nfleetctl list-units --fields=unit,machine",
    )
    .option("-l, --full", "Do not ellipsize fields on output")
    .option("--no-legend", "Do not print a legend (column headers)")
    .option(
      "--fields <fields>",
      `Columns to print for each Unit. Valid fields are "${fieldKeys(UNIT_STATE_FIELDS)}"`,
      DEFAULT_UNIT_STATE_FIELDS,
    )
    .addOption(outputOption())
    .option(
      "-w, --watch",
      "Keep running; redraw on every change (with -o json: one event per line)",
    )
    .action(
      act<Opts>(runner, async (_args, opts) => {
        const cols = parseFields(ctx, opts.fields, new Set(Object.keys(UNIT_STATE_FIELDS)));
        if (cols === undefined) return 1;
        const full = opts.full === true;
        if (opts.watch) {
          return watchCluster(ctx, {
            kinds: needsMachines(cols) ? ["state", "machine"] : ["state"],
            json: opts.output === "json",
            render: (m) =>
              renderTable(
                cols,
                unitStateRows(sortedStates(m), cols, full, m.machines),
                !opts.legend,
              ),
          });
        }
        let states: WireState[];
        let machines: Machines;
        try {
          ({ states, machines } = await listStatesAndMachines(
            ctx.api(),
            needsMachines(cols) && opts.output !== "json",
          ));
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error retrieving list of units from repository: ${err.message}`));
          return 1;
        }
        if (opts.output === "json") {
          printJson(ctx, states);
          return 0;
        }
        ctx.io.stdout(renderTable(cols, unitStateRows(states, cols, full, machines), !opts.legend));
        return 0;
      }),
    );
};
