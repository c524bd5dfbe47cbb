import type { JournalEntry } from "../runs/run-journal.js";
import { splitRepo, type GitHubClient } from "./client.js";

/**
 * The run's check run on GitHub (its id, and whether it is completed), found by name at the run's
 * commit and matched by `external_id` (the run id): what survives when Redis lost the id. Looks at
 * the newest 100 check runs of that name on the commit.
 */
export async function findCheckRun(
  github: GitHubClient,
  run: Pick<JournalEntry, "id" | "repo" | "commit" | "workflow">,
): Promise<{ id: number; completed: boolean } | undefined> {
  const { owner, repo } = splitRepo(run.repo);
  const res = await github.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
    owner,
    repo,
    ref: run.commit,
    check_name: `dstack: ${run.workflow.name}`,
    filter: "all",
    per_page: 100,
  });
  const found = (res.data as { check_runs?: Array<{ id: number; external_id?: string | null; status?: string }> }).check_runs ?? [];
  const match = found.find((c) => c.external_id === run.id);
  return match === undefined ? undefined : { id: match.id, completed: match.status === "completed" };
}
