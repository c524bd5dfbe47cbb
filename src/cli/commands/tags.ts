import type { Command } from "commander";
import type { CommandContext } from "../command-context.js";
import { connect, currentRepo, paintFor, repoPath } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { formatTable } from "../format.js";

interface TagJson {
  tag: string;
  runs: Array<{ workflow: string; runId: string }>;
}

/** `dstack tags list|add <tag> <run>|delete <tag>`: the tags `depends-on: [workflow:tag]` reuses. */
export function registerTags(program: Command, ctx: CommandContext): void {
  const tags = program.command("tags").description("list, add and delete the repository's tags (what `depends-on: [workflow:tag]` reuses)");
  tags
    .command("list")
    .description("list the tags and the run each names per workflow")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .option("--json", "print a JSON array of {tag, runs: [{workflow, runId}]}")
    .action(async (options: { repo?: string; json?: boolean }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      const { tags: list } = await client.json<{ tags: TagJson[] }>(`${repoPath(repo)}/tags`);
      if (options.json === true) ctx.io.out(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.length === 0) ctx.io.err(`dstack: ${repo} has no tags\n`);
      else {
        const rows = list.flatMap((t) => t.runs.map((r) => [t.tag, r.workflow, r.runId]));
        ctx.io.out(formatTable(["TAG", "WORKFLOW", "RUN"], rows, paintFor(ctx)));
      }
      ctx.exit(ExitCode.ok);
    });
  tags
    .command("add")
    .description("tag a successful run")
    .argument("<tag>", "the tag (ASCII letters, digits, ., _, -)")
    .argument("<run>", "the run id")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .action(async (tag: string, runId: string, options: { repo?: string }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      const added = await client.json<{ tag: string; runId: string; workflow: string }>(`${repoPath(repo)}/tags`, { method: "POST", json: { tag, runId } });
      ctx.io.out(`tagged run ${added.runId} (${added.workflow}) ${added.tag}\n`);
      ctx.exit(ExitCode.ok);
    });
  tags
    .command("delete")
    .description("delete a tag")
    .argument("<tag>", "the tag")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .action(async (tag: string, options: { repo?: string }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      await client.request(`${repoPath(repo)}/tags/${encodeURIComponent(tag)}`, { method: "DELETE" });
      ctx.io.out(`deleted tag ${tag}\n`);
      ctx.exit(ExitCode.ok);
    });
}
