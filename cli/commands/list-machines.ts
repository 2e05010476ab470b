/** `fleetctl list-machines`: the live machines, fleet's table or JSON. */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { formatMetadata, machineIdLegend } from "../machines.js";
import { type OutputFormat, outputOption, parseFields, printJson, renderTable } from "../output.js";
import type { WireMachine } from "../wire.js";

type Field = (m: WireMachine, full: boolean) => string;
const FIELDS: Readonly<Record<string, Field>> = {
  // fleet printed its field list in Go map order; ours is fixed.
  metadata: (m) => (Object.keys(m.metadata).length === 0 ? "-" : formatMetadata(m.metadata)),
  machine: (m, full) => machineIdLegend(m.id, full),
  ip: (m) => m.primaryIP || "-",
  draining: (m) => String(m.draining === true),
};

interface Opts {
  full?: boolean;
  legend: boolean;
  fields: string;
  output: OutputFormat;
}

export const registerListMachines: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("list-machines")
    .summary("Enumerate the current hosts in the cluster")
    .description(
      "Lists all active machines within the cluster. Previously active machines will not appear in this list.\n\nFor easily parsable output, you can remove the column headers:\nfleetctl list-machines --no-legend\n\nOutput the list without truncation:\nfleetctl list-machines --full",
    )
    .option("-l, --full", "Do not ellipsize fields on output")
    .option("--no-legend", "Do not print a legend (column headers)")
    .option(
      "--fields <fields>",
      `Columns to print for each Machine. Valid fields are "${Object.keys(FIELDS).join(",")}"`,
      "machine,ip,metadata",
    )
    .addOption(outputOption())
    .action(
      act<Opts>(runner, async (_args, opts) => {
        const cols = parseFields(ctx, opts.fields, new Set(Object.keys(FIELDS)));
        if (cols === undefined) return 1;
        let machines: WireMachine[];
        try {
          machines = await ctx.api().machines();
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(
            line(`Error retrieving list of active machines from fleet API (${err.message})`),
          );
          return 1;
        }
        if (opts.output === "json") {
          printJson(ctx, machines);
          return 0;
        }
        const rows = machines.map((m) =>
          cols.map((c) => (FIELDS[c] as Field)(m, opts.full === true)),
        );
        ctx.io.stdout(renderTable(cols, rows, !opts.legend));
        return 0;
      }),
    );
};
