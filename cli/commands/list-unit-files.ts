/**
 * `fleetctl list-unit-files`: every unit in the cluster, whether or not it is placed, with
 * (fleet-ts) the scheduler's reason for a unit that is not where it should be (`--fields` with
 * `reason`). `--watch` redraws on every change.
 */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { addListOptions, type ListOpts, runList } from "../list-command.js";
import { DEFAULT_UNIT_FILE_FIELDS, UNIT_FILE_FIELDS, unitFileRows } from "../list-views.js";
import { fieldKeys, parseFields } from "../output.js";
import { listUnitsAndMachines } from "../snapshot.js";
import { sortedUnits } from "../watch-model.js";

export const registerListUnitFiles: Register = (program, runner) => {
  const { ctx } = runner;
  const cmd = program
    .command("list-unit-files")
    .summary("List the units that exist in the cluster.")
    .description(
      "Lists all unit files that exist in the cluster (whether or not they are loaded onto a machine).\n\nThe REASON field (--fields=unit,dstate,state,reason) says why the scheduler has not placed\na unit where it should be.",
    );
  addListOptions(
    cmd,
    `Columns to print for each Unit file. Valid fields are "${fieldKeys(UNIT_FILE_FIELDS)}"`,
    DEFAULT_UNIT_FILE_FIELDS,
  ).action(
    act<ListOpts>(runner, async (_args, opts) => {
      const cols = parseFields(ctx, opts.fields, new Set(Object.keys(UNIT_FILE_FIELDS)));
      if (cols === undefined) return 1;
      if (cols.includes("tmachine")) {
        ctx.io.stderr(line('WARNING: The "tmachine" field is deprecated. Use "target" instead'));
      }
      return runList(ctx, opts, cols, {
        kind: "unit",
        fromModel: sortedUnits,
        list: async (api, withMachines) => {
          const { units, machines } = await listUnitsAndMachines(api, withMachines);
          return { items: units, machines };
        },
        rows: unitFileRows,
      });
    }),
  );
};
