import type { Command } from "commander";
import type { RunJson } from "../../api/v1/run-json.js";
import type { CommandContext } from "../command-context.js";
import { connect, currentRepo, repoPath } from "../connect.js";
import { ExitCode } from "../exit-code.js";

/** `dstack approve <run>`: starts a run the budget gate holds (DSTACK_EC2_BUDGET_PER_DAY), like `/dstack approve`. */
export function registerApprove(program: Command, ctx: CommandContext): void {
  program
    .command("approve")
    .description("start a run that waits because its repository spent its daily budget")
    .argument("<run>", "the run id")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .action(async (runId: string, options: { repo?: string }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      const { run } = await client.json<{ run: RunJson }>(`${repoPath(repo)}/runs/${encodeURIComponent(runId)}/approve`, { method: "POST" });
      ctx.io.out(`run ${run.id} approved; it starts now\n`);
      ctx.exit(ExitCode.ok);
    });
}
