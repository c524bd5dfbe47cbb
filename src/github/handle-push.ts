import { isTriggeredBy, loadWorkflows } from "../workflow/index.js";
import { handleTag, ZERO_SHA } from "./handle-tag.js";
import { publishValidation } from "./publish-validation.js";
import { readWorkflowFiles } from "./read-workflow-files.js";
import type { RepoEventDeps, RepositoryPayload } from "./repo-event.js";
import { startTriggeredRuns } from "./start-triggered-runs.js";

/** The fields of a `push` payload the handler reads. */
export interface PushPayload {
  ref: string;
  after: string;
  deleted?: boolean;
  installation?: { id: number };
  repository: RepositoryPayload;
  sender?: { login: string; type?: string };
}

/** Validation is reported once per commit (a commit pushed to two branches gets one check run). */
const VALIDATED_SECONDS = 3 * 24 * 3600;

/**
 * `push`: to a branch, `.dstack/` at the pushed commit is validated (check run `dstack:
 * workflows.yaml`) and the workflows whose `on: push` matches the branch start; to a tag, see
 * `handleTag`. Pushes to forks are not processed (their code is not the repository's).
 */
export async function handlePush(deps: RepoEventDeps, payload: PushPayload): Promise<void> {
  const { repository } = payload;
  if (repository.fork === true) return;
  const actor = payload.sender?.login ?? repository.owner.login;
  if (payload.ref.startsWith("refs/tags/")) {
    const tag = payload.ref.slice("refs/tags/".length);
    await handleTag(deps, { repository, installationId: payload.installation?.id, tag, actor, deleted: payload.deleted === true || payload.after === ZERO_SHA });
    return;
  }
  if (!payload.ref.startsWith("refs/heads/") || payload.deleted === true || payload.after === ZERO_SHA) return;
  const branch = payload.ref.slice("refs/heads/".length);
  const commit = payload.after;
  const owner = repository.owner.login;
  const repo = repository.name;
  const files = await readWorkflowFiles(deps.github, { owner, repo, ref: commit });
  if (files.length === 0) return; // no .dstack/: nothing to check or run
  const loaded = loadWorkflows(files);
  const hasErrors = loaded.problems.some((p) => p.severity === "error");
  const started = hasErrors
    ? []
    : await startTriggeredRuns(deps, {
        repo: repository.full_name,
        installationId: payload.installation?.id,
        commit,
        ref: branch,
        trigger: { kind: "push", actor },
        files,
        workflows: loaded.workflows.filter((w) => isTriggeredBy(w, { kind: "push", branch })),
        onceKey: (name) => `${deps.prefix}:push:${repository.full_name}:${commit}:${branch}:${name}`,
      });
  const validatedKey = `${deps.prefix}:validated:${repository.full_name}:${commit}`;
  if ((await deps.redis.exists(validatedKey)) === 1) return;
  await publishValidation(deps, { repo: repository.full_name, commit, problems: loaded.problems, workflows: loaded.workflows, started });
  await deps.redis.set(validatedKey, "1", "EX", VALIDATED_SECONDS);
  deps.log.info({ repo: repository.full_name, commit, problems: loaded.problems.length, started }, "push validated");
}
