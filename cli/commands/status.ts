/**
 * `fleetctl status UNIT...`: systemd's status of each unit on the machine that runs it,
 * through the API (GET /fleet/v1/units/<name>/status) instead of fleet's SSH. A global unit's
 * status is shown for every machine that reports it. The exit code is systemctl's (3 for an
 * inactive unit), as fleet's was when it ran systemctl itself.
 */
import { mangleUnitName } from "../../units/unit-name.js";
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { type OutputFormat, outputOption, printJson } from "../output.js";
import { isGlobal } from "../unit-kind.js";
import type { UnitStatus, WireUnit } from "../wire.js";

interface Opts {
  output: OutputFormat;
  machine?: string;
  sshPort?: string;
}

export const registerStatus: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("status")
    .summary("Output the status of one or more units in the cluster")
    .description(
      "Output the status of one or more units currently running in the cluster.\n\nShow status of a single unit:\n\tfleetctl status foo.service\n\nA global unit's status is shown for each machine that runs it (or only --machine's).",
    )
    .argument("[unit...]")
    .addOption(outputOption())
    .option("--machine <id>", "Only this machine (for a global unit)")
    .option("--ssh-port <n>", "Accepted for fleet's scripts; status needs no SSH in fleet-ts")
    .action(
      act<Opts>(runner, async (args, opts) => {
        const all: (UnitStatus & { name: string })[] = [];
        let exit = 0;
        let printed = 0;
        const show = (name: string, s: UnitStatus): void => {
          all.push({ name, ...s });
          if (opts.output === "json") return;
          // The blank line between units matches systemctl status with several units.
          if (printed++ > 0) ctx.io.stdout("\n");
          ctx.io.stdout(s.output);
        };
        for (const arg of args) {
          const name = mangleUnitName(arg);
          let u: WireUnit | undefined;
          try {
            u = await ctx.api().unit(name);
          } catch (err) {
            if (!(err instanceof CliError)) throw err;
            ctx.io.stderr(line(`Error retrieving unit: ${err.message}`));
            return 1;
          }
          if (u === undefined) {
            ctx.io.stderr(line(`Unit ${name} does not exist.`));
            return 1;
          }
          try {
            if (isGlobal(u)) {
              const machines = (await ctx.api().states(name))
                .map((s) => s.machineID)
                .filter((m) => opts.machine === undefined || m === opts.machine);
              for (const m of machines) show(name, await ctx.api().unitStatus(name, m));
              continue;
            }
            if (u.currentState === "inactive") {
              ctx.io.stderr(line(`Unit ${u.name} does not appear to be loaded.`));
              if (u.reason !== undefined)
                ctx.io.stderr(line(`Unit ${u.name} is not placed: ${u.reason}`));
              return 1;
            }
            const s = await ctx.api().unitStatus(name, opts.machine);
            show(name, s);
            if (s.exitCode !== 0) {
              exit = s.exitCode;
              break;
            }
          } catch (err) {
            if (!(err instanceof CliError)) throw err;
            ctx.io.stderr(line(`Error retrieving status of ${name}: ${err.message}`));
            return 1;
          }
        }
        if (opts.output === "json") printJson(ctx, all);
        return exit;
      }),
    );
};
