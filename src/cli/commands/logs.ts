import type { Command } from "commander";
import type { CommandContext } from "../command-context.js";
import { connect } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { followToEnd, readLog } from "../follow-log.js";

/** `dstack logs <run> [-f]`: the run's log; with -f, live until it ends, exiting 0 only when it is `done`. */
export function registerLogs(program: Command, ctx: CommandContext): void {
  program
    .command("logs")
    .description("print a run's log; with --follow, stream it until the run ends (exit 0 only when it ends done)")
    .argument("<run>", "the run id")
    .option("-f, --follow", "keep streaming until the run ends")
    .action(async (runId: string, options: { follow?: boolean }) => {
      const client = await connect(ctx);
      if (options.follow === true) {
        ctx.exit(await followToEnd(ctx, client, runId));
        return;
      }
      await readLog(client, runId, ctx.io.out);
      ctx.exit(ExitCode.ok);
    });
}
