import type { Command } from "commander";
import type { RunJson } from "../../api/v1/run-json.js";
import { MAX_LISTED_RUNS } from "../../api/v1/schemas.js";
import { InvalidInputError } from "../../errors.js";
import { RUN_STATUSES } from "../../runs/types.js";
import type { CommandContext } from "../command-context.js";
import { connect, currentRepo, paintFor } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { formatAge, formatBytes, formatDuration, formatTable, statusColor } from "../format.js";

/** `dstack runs`: the repository's runs, newest first, as a table or `--json`. */
export function registerRuns(program: Command, ctx: CommandContext): void {
  program
    .command("runs")
    .description("list runs of the repository, newest first: run, workflow, status, age, duration, tags, artifacts")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .option("-a, --all", "runs of every repository")
    .option("-w, --workflow <name>", "only runs of this workflow")
    .option("-s, --status <status>", "only runs in this status (submitted, running, done, failed, stopped, timed_out, ...)")
    .option("-n, --limit <n>", "at most this many", "20")
    .option("--json", "print a JSON array of runs (id, workflow, status, tags, ...)")
    .action(async (options: { repo?: string; all?: boolean; workflow?: string; status?: string; limit: string; json?: boolean }, command: Command) => {
      checkFilters(options);
      const repo = options.all === true ? undefined : await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      // Under the default limit one run more is asked for, to tell a full page from a cut one.
      const limit = Number(options.limit);
      const peek = command.getOptionValueSource("limit") === "default" ? 1 : 0;
      const listed = await client.json<{ runs: RunJson[] }>("/api/v1/runs", {
        query: { repo, workflow: options.workflow, status: options.status, limit: limit + peek },
      });
      const runs = listed.runs.slice(0, limit);
      if (options.json === true) {
        ctx.io.out(`${JSON.stringify(runs, null, 2)}\n`);
      } else if (runs.length === 0) {
        ctx.io.err(`dstack: ${noRunsMessage(repo, options)}\n`);
      } else {
        const paint = paintFor(ctx);
        const now = Date.now();
        // Across repositories the same workflow name means different things: say whose run each is.
        const byRepo = repo === undefined;
        const rows = runs.map((r) => [
          r.id,
          ...(byRepo ? [r.repo] : []),
          r.workflow,
          paint(statusColor(r.status), r.status),
          formatAge(Date.parse(r.createdAt), now),
          r.durationMs === undefined ? "-" : formatDuration(r.durationMs),
          r.tags.length === 0 ? "-" : r.tags.join(","),
          r.artifacts.length === 0 ? "-" : `${r.artifacts.length} (${formatBytes(r.artifacts.reduce((n, a) => n + a.sizeBytes, 0))})`,
        ]);
        ctx.io.out(formatTable(["RUN", ...(byRepo ? ["REPO"] : []), "WORKFLOW", "STATUS", "AGE", "DURATION", "TAGS", "ARTIFACTS"], rows, paint));
        // A list cut by the default limit would otherwise read as "these are all the runs".
        if (listed.runs.length > limit) {
          ctx.io.err(`dstack: showing the newest ${runs.length} runs; more with \`-n N\` (up to ${MAX_LISTED_RUNS})\n`);
        }
      }
      ctx.exit(ExitCode.ok);
    });
}

/**
 * Checked here: the server's words for `-n abc` or `-s fail` would be "bad query: limit: expected
 * number, received NaN" and "bad query: status: Invalid option: expected one of ...".
 */
function checkFilters(options: { status?: string; limit: string }): void {
  if (!/^[1-9]\d*$/.test(options.limit) || Number(options.limit) > MAX_LISTED_RUNS) {
    throw new InvalidInputError(`-n/--limit must be a whole number from 1 to ${MAX_LISTED_RUNS}, got ${JSON.stringify(options.limit)}`);
  }
  if (options.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(options.status)) {
    throw new InvalidInputError(`-s/--status ${JSON.stringify(options.status)} is not a run status; use one of ${RUN_STATUSES.join(", ")}`);
  }
}

/** An empty filtered list must not read as an empty repository: "no runs of `train` with status failed in acme/demo". */
function noRunsMessage(repo: string | undefined, filter: { workflow?: string; status?: string }): string {
  const of = filter.workflow !== undefined ? ` of \`${filter.workflow}\`` : "";
  const status = filter.status !== undefined ? ` with status ${filter.status}` : "";
  const where = repo !== undefined ? ` in ${repo}` : "";
  return of === "" && status === "" ? `no runs${where} yet` : `no runs${of}${status}${where}`;
}
