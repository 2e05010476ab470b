/**
 * `fleetctl start UNIT...`: submit if needed, set the desired state to launched, and wait
 * until each unit reports launched and systemd says active (fleet's messages). When waiting
 * gives up, the scheduler's reason for the unit, if it has one, follows fleet's lines.
 */
import { act, integer, type Register } from "../command-kit.js";
import { line } from "../context.js";
import { CliError } from "../errors.js";
import { createUnitArgs, setTargetStates } from "../unit-actions.js";
import { isGlobal } from "../unit-kind.js";
import {
  blockAttempts,
  tryWaitForSystemdActive,
  tryWaitForUnitStates,
  type WaitTimeout,
} from "../waits.js";

export interface BlockOpts {
  blockAttempts: number;
  block: boolean;
  replace?: boolean;
}

/** The scheduler's reason, on stderr, for a unit whose wait gave up (fleet-ts). */
export function printReason(ctx: { io: { stderr: (s: string) => void } }, err: WaitTimeout): void {
  const u = err.last;
  if (u?.reason !== undefined) ctx.io.stderr(line(`Unit ${u.name} is not placed: ${u.reason}`));
}

export const registerStart: Register = (program, runner) => {
  const { ctx } = runner;
  program
    .command("start")
    .summary(
      "Instruct systemd to start one or more units in the cluster, first submitting and loading if necessary.",
    )
    .description(
      "Start one or many units on the cluster. Select units to start by glob matching for units in the current working directory or matching names of previously submitted units.\n\nFor units which are not global, start operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a started state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Start operations on global\nunits are always non-blocking.",
    )
    .argument("[unit...]")
    .option("--sign", "DEPRECATED - this option cannot be used")
    .option(
      "--block-attempts <n>",
      "Wait until the units are launched, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.",
      integer("--block-attempts"),
      0,
    )
    .option(
      "--no-block",
      "Do not wait until the units have launched before exiting. Always the case for global units.",
    )
    .option("--replace", "Replace the already started units in the cluster with new versions.")
    .action(
      act<BlockOpts & { sign?: boolean }>(runner, async (args, opts) => {
        const machines = await createUnitArgs(ctx, args, opts.sign, {
          maxAttempts: opts.blockAttempts,
          ...(opts.replace ? { replace: { command: "start" } } : {}),
        });
        if (typeof machines === "number") return machines;
        let starting: string[] = [];
        try {
          const triggered = await setTargetStates(ctx, args, "launched");
          for (const u of triggered) {
            if (isGlobal(u)) ctx.io.stdout(line(`Triggered global unit ${u.name} start`));
            else starting = [...starting, u.name];
          }
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          ctx.io.stderr(line(`Error starting units: ${err.message}`));
          return 1;
        }
        const max = blockAttempts({ noBlock: !opts.block, blockAttempts: opts.blockAttempts });
        const waitErr = await tryWaitForUnitStates(
          ctx,
          machines,
          starting,
          "start",
          "launched",
          max,
        );
        if (waitErr !== undefined) {
          ctx.io.stderr(line(`Error waiting for unit states, exit status: ${waitErr.message}`));
          printReason(ctx, waitErr);
          return 1;
        }
        const activeErr = await tryWaitForSystemdActive(ctx, starting, max);
        if (activeErr !== undefined) {
          ctx.io.stderr(line(`Error waiting for systemd unit states, err: ${activeErr.message}`));
          return 1;
        }
        return 0;
      }),
    );
};
