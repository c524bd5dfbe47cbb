import { loadWorkflows } from "../workflow/index.js";
import { isForkHead, recordForkHead } from "./fork-head.js";
import { publishValidation } from "./publish-validation.js";
import { readWorkflowFiles } from "./read-workflow-files.js";
import type { RepoEventDeps, RepositoryPayload } from "./repo-event.js";

/** The fields of `pull_request` payloads the handler reads. */
export interface PullRequestPayload {
  action: string;
  pull_request: { number: number; head: { sha: string; repo: { full_name: string } | null } };
  repository: RepositoryPayload;
}

/** Validation is reported once per commit, whichever event saw it first. */
const VALIDATED_SECONDS = 3 * 24 * 3600;

/**
 * `pull_request` opened, reopened or synchronized from a fork: its `.dstack/` is validated at the
 * head commit (the `dstack: workflows.yaml` check run), so the contributor sees mistakes at their
 * lines. Nothing runs: a fork's PR runs only when a writer asks, and the head is recorded with the
 * time it was seen, so a writer's comment written before this push does not approve it
 * (`checkForkHead`). Same-repository PRs need nothing here, the push of their branch was validated.
 */
export async function handlePullRequest(deps: RepoEventDeps, payload: PullRequestPayload): Promise<void> {
  const { repository, pull_request: pr } = payload;
  if (!isForkHead(repository.full_name, pr.head.repo)) return;
  const commit = pr.head.sha;
  await recordForkHead(deps, { repo: repository.full_name, number: pr.number }, commit, Date.now());
  const validatedKey = `${deps.prefix}:validated:${repository.full_name}:${commit}`;
  if ((await deps.redis.exists(validatedKey)) === 1) return;
  const files = await readWorkflowFiles(deps.github, { owner: repository.owner.login, repo: repository.name, ref: commit });
  if (files.length === 0) return;
  const loaded = loadWorkflows(files);
  await publishValidation(deps, { repo: repository.full_name, commit, problems: loaded.problems, workflows: loaded.workflows, started: [] });
  await deps.redis.set(validatedKey, "1", "EX", VALIDATED_SECONDS);
  deps.log.info({ repo: repository.full_name, pr: pr.number, commit, problems: loaded.problems.length }, "fork pull request validated");
}
