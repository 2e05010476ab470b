/** `fleetctl version`, and the deprecated `verify` that fleet kept (exit 2). */
import { act, type Register } from "../command-kit.js";
import { line } from "../context.js";

export const FLEETCTL_VERSION = "0.1.0";

export const registerVersion: Register = (program, runner) => {
  program
    .command("version")
    .summary("Print the version and exit")
    .action(
      act(runner, async () => {
        runner.ctx.io.stdout(line(`fleetctl version ${FLEETCTL_VERSION}`));
        return 0;
      }),
    );
};

export const registerVerify: Register = (program, runner) => {
  program
    .command("verify", { hidden: true })
    .argument("[unit...]")
    .action(
      act(runner, async () => {
        runner.ctx.io.stderr(line('Command "verify" is deprecated, DEPRECATED - No longer works'));
        runner.ctx.io.stderr(
          line("WARNING: The signed/verified units feature is DEPRECATED and cannot be used."),
        );
        return 2;
      }),
    );
};
