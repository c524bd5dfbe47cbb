import type { Redis } from "ioredis";
import { NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import { GITHUB_LIMITS, truncate } from "../render.js";
import type { RunStore } from "../runs/run-store.js";
import { submitRunGroup, type SubmitInput } from "../runs/submit-runs.js";
import type { Run } from "../runs/types.js";
import { STOP_ACTION } from "./check-run-actions.js";
import { splitRepo, statusOf, type GitHubClient } from "./client.js";
import { runUrl } from "./run-links.js";

export interface StartRunsDeps {
  github: GitHubClient;
  store: RunStore;
  redis: Redis;
  publicUrl: string;
  enqueueRun(runId: string): Promise<void>;
  log: Pick<Logger, "info">;
}

/** How long a submission is remembered (as long as GitHub may redeliver the webhook). */
const ONCE_SECONDS = 3 * 24 * 3600;
/** A submission in progress holds its key this long: a crashed submitter frees it. */
const PENDING_SECONDS = 60;

/**
 * Submits a run group at most once per `onceKey`, creates its check runs (`queued`, with a Stop
 * button) and enqueues its supervisors. A retried job (GitHub failed halfway) resumes the group it
 * already created instead of submitting a second one: it creates the check runs still missing and
 * enqueues again (idempotent by run id). Returns no runs when another worker is submitting the same
 * key right now. `submitRunGroup`'s refusals (a missing tag) are thrown, with nothing created.
 */
export async function startRunGroup(deps: StartRunsDeps, input: SubmitInput & { onceKey: string }): Promise<Run[]> {
  let runs: Run[];
  if ((await deps.redis.set(input.onceKey, "pending", "EX", PENDING_SECONDS, "NX")) === "OK") {
    try {
      runs = await submitRunGroup({ store: deps.store }, { mayReuseFrom: (repo) => installationSees(deps.github, repo), ...input });
    } catch (err) {
      await deps.redis.del(input.onceKey);
      throw err;
    }
    await deps.redis.set(input.onceKey, runs.at(-1)?.groupId ?? "", "EX", ONCE_SECONDS);
  } else {
    const groupId = await deps.redis.get(input.onceKey);
    if (groupId === null || groupId === "pending" || groupId === "") return [];
    runs = await deps.store.groupRuns(groupId);
  }
  await Promise.all(runs.map((run) => ensureCheckRun(deps, run)));
  for (const run of runs) await deps.enqueueRun(run.id);
  deps.log.info({ runs: runs.map((r) => r.id), trigger: input.trigger.kind }, "runs submitted");
  return runs;
}

/**
 * A push, tag, comment or re-run reuses another repository's run (`owner/repo/workflow:tag`) only when
 * the app's installation on this repository can see that one (public, or in the same installation):
 * whoever may push to one account's repository must not get another account's private artifacts as
 * inputs. GitHub answers 404 (or 403) for a repository the installation cannot see.
 */
async function installationSees(github: GitHubClient, repo: string): Promise<void> {
  const { owner, repo: name } = splitRepo(repo);
  try {
    await github.request("GET /repos/{owner}/{repo}", { owner, repo: name });
  } catch (err) {
    const status = statusOf(err);
    if (status === 404 || status === 403) throw new NotFoundError(`${repo} is not a repository this app can read from here (private, and not in this installation), so its runs cannot be reused`);
    throw err;
  }
}

/**
 * Creates the run's check run (`queued`, with a Stop button) unless it has one, and remembers its id
 * on the run. Both the submitting handler and the run's supervisor call it (the handler's job may
 * fail after submitting, and the reaper then starts the run before the job's retry): a short Redis
 * guard lets one of them create it.
 */
export async function ensureCheckRun(deps: Pick<StartRunsDeps, "github" | "store" | "publicUrl">, run: Run): Promise<void> {
  if ((await deps.store.get(run.id)).checkRunId !== undefined) return;
  const guard = deps.store.key("run", run.id, "check-run-guard");
  if ((await deps.store.redis.set(guard, "1", "EX", 60, "NX")) !== "OK") return;
  const { owner, repo } = splitRepo(run.repo);
  try {
    const res = await deps.github.request("POST /repos/{owner}/{repo}/check-runs", {
      owner,
      repo,
      name: `dstack: ${run.workflow.name}`,
      head_sha: run.commit,
      external_id: run.id,
      details_url: runUrl(deps.publicUrl, run.id),
      status: "queued",
      output: {
        title: `${run.workflow.name} queued`,
        summary: run.needs.length > 0 ? "Waiting for its dependencies to finish." : "Waiting for a runner.",
      },
      actions: [STOP_ACTION],
    });
    await deps.store.update(run.id, { checkRunId: (res.data as { id: number }).id });
  } catch (err) {
    await deps.store.redis.del(guard);
    throw err;
  }
}

/**
 * A workflow that was asked for (by a push, a tag or a re-run) but cannot start: the reason goes
 * where the user looks, a failed check run `dstack: <workflow>` at the commit.
 */
export async function refuseAsCheckRun(
  deps: Pick<StartRunsDeps, "github">,
  input: { repo: string; commit: string; workflow: string; title: string; message: string },
): Promise<void> {
  const { owner, repo } = splitRepo(input.repo);
  await deps.github.request("POST /repos/{owner}/{repo}/check-runs", {
    owner,
    repo,
    name: `dstack: ${input.workflow}`,
    head_sha: input.commit,
    status: "completed",
    conclusion: "failure",
    completed_at: new Date().toISOString(),
    output: { title: input.title.slice(0, 200), summary: truncate(input.message, GITHUB_LIMITS.checkRunSummary) },
  });
}
