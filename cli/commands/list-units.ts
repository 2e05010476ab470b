/**
 * `fleetctl list-units`: what systemd reports for each unit on each machine. `--watch` redraws
 * on every change, from the API's event stream.
 */
import { act, type Register } from "../command-kit.js";
import { addListOptions, type ListOpts, runList } from "../list-command.js";
import { DEFAULT_UNIT_STATE_FIELDS, UNIT_STATE_FIELDS, unitStateRows } from "../list-views.js";
import { fieldKeys, parseFields } from "../output.js";
import { listStatesAndMachines } from "../snapshot.js";
import { sortedStates } from "../watch-model.js";

export const registerListUnits: Register = (program, runner) => {
  const { ctx } = runner;
  const cmd = program
    .command("list-units")
    .summary("List the current state of units in the cluster")
    .description(
      "Lists the state of all units in the cluster loaded onto a machine.\n\nFor easily parsable output, you can remove the column headers:\nfleetctl list-units --no-legend\n\nOutput the list without ellipses:\nfleetctl list-units --full\n\nOr, choose the columns to display:\nfleetctl list-units --fields=unit,machine",
    );
  addListOptions(
    cmd,
    `Columns to print for each Unit. Valid fields are "${fieldKeys(UNIT_STATE_FIELDS)}"`,
    DEFAULT_UNIT_STATE_FIELDS,
  ).action(
    act<ListOpts>(runner, async (_args, opts) => {
      const cols = parseFields(ctx, opts.fields, new Set(Object.keys(UNIT_STATE_FIELDS)));
      if (cols === undefined) return 1;
      return runList(ctx, opts, cols, {
        kind: "state",
        fromModel: sortedStates,
        list: async (api, withMachines) => {
          const { states, machines } = await listStatesAndMachines(api, withMachines);
          return { items: states, machines };
        },
        rows: unitStateRows,
      });
    }),
  );
};
