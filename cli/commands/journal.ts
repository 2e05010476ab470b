/**
 * `fleetctl journal [--lines=N] [-f] UNIT`: the unit's journal from the machine that runs it,
 * streamed over the API's WebSocket (GET /fleet/v1/units/<name>/journal) instead of fleet's
 * SSH. With -f it runs until interrupted or until the unit's machine goes away.
 */
import { mangleUnitName } from "../../units/unit-name.js";
import { parseMessage } from "../api-client.js";
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { isGlobal } from "../unit-kind.js";
import { type JournalMessage, JournalMessageSchema, type WireUnit } from "../wire.js";

interface Opts {
  lines: number;
  follow?: boolean;
  output: string;
  machine?: string;
  sudo?: boolean;
  sshPort?: string;
}

export const registerJournal: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("journal")
    .summary("Print the journal of a unit in the cluster to stdout")
    .description(
      "Outputs the journal of a unit from the machine that the unit occupies.\n\nRead the last 10 lines:\nfleetctl journal foo.service\n\nRead the last 100 lines:\nfleetctl journal --lines 100 foo.service\n\nA global unit's journal needs --machine=<id>: it runs on several machines.",
    )
    .argument("[unit...]")
    .option("--lines <n>", "Number of recent log lines to return", integer("--lines"), 10)
    .option("-f, --follow", "Continuously print new entries as they are appended to the journal.")
    .option("--output <mode>", "Output mode: short (journalctl's, the only one served)", "short")
    .option("--machine <id>", "The machine to read it on (for a global unit)")
    .option("--sudo", "Accepted for fleet's scripts; the journal needs no sudo in fleet-ts")
    .option("--ssh-port <n>", "Accepted for fleet's scripts; the journal needs no SSH in fleet-ts")
    .action(
      act<Opts>(runner, async (args, opts) => {
        if (args.length !== 1) {
          ctx.io.stderr(line("One unit file must be provided."));
          return 1;
        }
        if (opts.output !== "short") {
          ctx.io.stderr(
            line(
              `--output ${opts.output} is not supported: the API serves journalctl's short output`,
            ),
          );
          return 2;
        }
        if (opts.lines < 0 || opts.lines > 10000) {
          ctx.io.stderr(line(`--lines must be between 0 and 10000, got ${opts.lines}`));
          return 2;
        }
        const name = mangleUnitName(args[0] as string);
        let u: WireUnit | undefined;
        try {
          u = await ctx.api().unit(name);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error retrieving unit ${name}: ${err.message}`));
          return 1;
        }
        if (u === undefined) {
          ctx.io.stderr(line(`Unit ${name} does not exist.`));
          return 1;
        }
        if (isGlobal(u) && opts.machine === undefined) {
          ctx.io.stderr(
            line(
              `Unable to retrieve journal of global unit ${name}. Name one of its machines with --machine=<id>.`,
            ),
          );
          return 1;
        }
        if (!isGlobal(u) && u.currentState === "inactive") {
          ctx.io.stderr(line(`Unit ${name} does not appear to be running.`));
          return 1;
        }
        const q = new URLSearchParams({ lines: String(opts.lines), follow: String(!!opts.follow) });
        if (opts.machine !== undefined) q.set("machineID", opts.machine);
        const path = `/fleet/v1/units/${encodeURIComponent(name)}/journal?${q}`;
        try {
          const ws = await ctx.api().openSocket(path);
          // Aborted while the socket opened: "abort" already fired and would never reach us.
          if (ctx.io.signal?.aborted) {
            ws.close();
            return 0;
          }
          return await new Promise<number>((resolve) => {
            let done = false;
            const finish = (code: number) => {
              if (done) return;
              done = true;
              ctx.io.signal?.removeEventListener("abort", onAbort);
              ws.close();
              resolve(code);
            };
            const fail = (message: string) => {
              if (done) return;
              ctx.io.stderr(line(`Error reading journal of ${name}: ${message}`));
              finish(1);
            };
            const onAbort = () => finish(0);
            ctx.io.signal?.addEventListener("abort", onAbort, { once: true });
            ws.onMessage((data) => {
              if (done) return;
              let m: JournalMessage;
              try {
                m = parseMessage(JournalMessageSchema, data, "the journal stream");
              } catch (err) {
                if (!(err instanceof CliError)) throw err;
                return fail(err.message);
              }
              if (m.type === "line") ctx.io.stdout(`${m.line}\n`);
              else if (m.type === "end") finish(0);
              else fail(m.message);
            });
            ws.onClose((why) => fail(why));
          });
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error reading journal of ${name}: ${err.message}`));
          return 1;
        }
      }),
    );
};
