import type { Run } from "../runs/types.js";
import { isTriggeredBy, loadWorkflows } from "../workflow/index.js";
import { readWorkflowFiles } from "./read-workflow-files.js";
import type { RepoEventDeps, RepositoryPayload } from "./repo-event.js";
import { startTriggeredRuns } from "./start-triggered-runs.js";

/** The sha GitHub sends for "no commit" (a created ref's `before`, a deleted ref's `after`). */
export const ZERO_SHA = "0000000000000000000000000000000000000000";

/** The fields of `create` and `delete` payloads the handlers read. */
export interface RefPayload {
  ref: string;
  ref_type: string;
  installation?: { id: number };
  repository: RepositoryPayload;
  sender?: { login: string };
}

/** `create` of a tag (GitHub also sends a `push` of `refs/tags/<tag>`: both lead here, idempotently). */
export async function handleCreate(deps: RepoEventDeps, payload: RefPayload): Promise<void> {
  if (payload.ref_type !== "tag" || payload.repository.fork === true) return;
  await handleTag(deps, { repository: payload.repository, installationId: payload.installation?.id, tag: payload.ref, actor: payload.sender?.login ?? "", deleted: false });
}

/** `delete` of a tag: the tag is taken away from the runs that had it. */
export async function handleDelete(deps: RepoEventDeps, payload: RefPayload): Promise<void> {
  if (payload.ref_type !== "tag" || payload.repository.fork === true) return;
  await handleTag(deps, { repository: payload.repository, installationId: payload.installation?.id, tag: payload.ref, actor: payload.sender?.login ?? "", deleted: true });
}

/**
 * A Git tag was created, moved or deleted. Created or moved: the tag names the newest successful
 * run of each workflow at the tagged commit (runs that succeed there later get it too), so
 * `depends-on: [train:v1]` resolves; a moved tag leaves the runs of its old commit; workflows whose
 * `on: tag` matches start once per tag and commit. Deleted: no run has the tag any more.
 */
export async function handleTag(
  deps: RepoEventDeps,
  input: { repository: RepositoryPayload; installationId?: number; tag: string; actor: string; deleted: boolean },
): Promise<void> {
  const repoName = input.repository.full_name;
  if (input.deleted) {
    await deps.store.deleteTag(repoName, input.tag);
    deps.log.info({ repo: repoName, tag: input.tag }, "tag deleted");
    return;
  }
  const owner = input.repository.owner.login;
  const repo = input.repository.name;
  // `commits/{ref}` peels annotated tags to the commit they name (a push's `after` would be the tag object).
  const commit = (await deps.github.request("GET /repos/{owner}/{repo}/commits/{ref}", { owner, repo, ref: `tags/${input.tag}` })).data as { sha: string };
  const previous = await deps.store.gitTagCommit(repoName, input.tag);
  if (previous !== commit.sha) await deps.store.untag(repoName, input.tag);
  await deps.store.setGitTag(repoName, input.tag, commit.sha);
  const newest = new Map<string, Run>();
  for (const run of await deps.store.runsAtCommit(repoName, commit.sha)) {
    if (run.status === "done") newest.set(run.workflow.name, run); // oldest first: the last one wins
  }
  for (const run of newest.values()) await deps.store.tag(run, input.tag);

  const files = await readWorkflowFiles(deps.github, { owner, repo, ref: commit.sha });
  const loaded = loadWorkflows(files);
  if (loaded.problems.some((p) => p.severity === "error")) return; // the push check run already says why
  const started = await startTriggeredRuns(deps, {
    repo: repoName,
    installationId: input.installationId,
    commit: commit.sha,
    ref: input.tag,
    trigger: { kind: "tag", actor: input.actor },
    files,
    workflows: loaded.workflows.filter((w) => isTriggeredBy(w, { kind: "tag", tag: input.tag })),
    onceKey: (name) => `${deps.prefix}:tag:${repoName}:${input.tag}:${commit.sha}:${name}`,
  });
  deps.log.info({ repo: repoName, tag: input.tag, commit: commit.sha, tagged: [...newest.values()].map((r) => r.id), started }, "tag set");
}
