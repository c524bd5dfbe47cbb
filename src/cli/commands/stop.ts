import type { Command } from "commander";
import type { RunJson } from "../../api/v1/run-json.js";
import { InvalidInputError } from "../../errors.js";
import type { CommandContext } from "../command-context.js";
import { connect, paintFor } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { getRun } from "../follow-log.js";
import { statusColor } from "../format.js";

const TERMINAL = new Set(["done", "failed", "stopped", "timed_out"]);

/** `dstack stop <run>`: asks the service to stop the run, then waits (up to --wait seconds) until it has ended. */
export function registerStop(program: Command, ctx: CommandContext): void {
  program
    .command("stop")
    .description("stop a run (its machine is released) and wait until it has ended")
    .argument("<run>", "the run id")
    .option("--wait <seconds>", "how long to wait for the run to end; 0 returns at once", "60")
    .action(async (runId: string, options: { wait: string }) => {
      // Checked before the run is stopped: `--wait abc` must not stop it and return at once.
      if (!/^\d+$/.test(options.wait)) throw new InvalidInputError(`--wait must be a whole number of seconds, got ${JSON.stringify(options.wait)}`);
      const client = await connect(ctx);
      let run = (await client.json<{ run: RunJson }>(`/api/v1/runs/${encodeURIComponent(runId)}/stop`, { method: "POST" })).run;
      const deadline = Date.now() + Number(options.wait) * 1000;
      while (!TERMINAL.has(run.status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        run = await getRun(client, runId);
      }
      const paint = paintFor(ctx);
      ctx.io.out(TERMINAL.has(run.status) ? `run ${run.id} ${paint(statusColor(run.status), run.status)}\n` : `run ${run.id} is stopping (${run.status})\n`);
      ctx.exit(ExitCode.ok);
    });
}
