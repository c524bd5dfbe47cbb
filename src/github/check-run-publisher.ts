import type { ArtifactStore } from "../artifacts/index.js";
import { DstackError } from "../errors.js";
import { GITHUB_LIMITS, render, truncate } from "../render.js";
import { logTailWindow } from "../runs/log-tail.js";
import type { RunPublisher } from "../runs/publisher.js";
import type { RunStore } from "../runs/run-store.js";
import { machineFacts, machineFactsView } from "../runs/machine-facts.js";
import { conclusionOf, describeResources, describeTrigger, formatBytes, runDuration, STATUS_LABEL } from "../runs/run-view.js";
import { describeAttempts } from "../runs/run-attempts.js";
import type { Run } from "../runs/types.js";
import { RERUN_ACTION, STOP_ACTION } from "./check-run-actions.js";
import { splitRepo, type GitHubClient } from "./client.js";
import { publishRunComment } from "./run-comment.js";
import { artifactLinks, runUrl } from "./run-links.js";
import { ensureCheckRun } from "./start-runs.js";

export interface CheckRunPublisherDeps {
  github: GitHubClient;
  artifacts: ArtifactStore;
  store: RunStore;
  publicUrl: string;
  now?: () => number;
}

/** Publishes a run as its check run `dstack: <workflow>` and, for comment-started runs, a PR comment. */
export function createCheckRunPublisher(deps: CheckRunPublisherDeps): RunPublisher {
  const now = deps.now ?? Date.now;

  const output = async (run: Run, tail: { offset: number; data: Buffer }) => {
    const deps_ = await Promise.all(
      run.needs.map(async (id) => {
        const need = await deps.store.find(id);
        return { workflow: need?.workflow.name ?? id, status: need?.status ?? "unknown", url: runUrl(deps.publicUrl, id) };
      }),
    );
    const { links, omitted } = run.status === "done" ? await artifactLinks(deps, run) : { links: [], omitted: 0 };
    const waiting = run.status === "submitted" && run.approval?.state === "waiting" ? run.approval.message : undefined;
    const summary = render("check-run-summary", {
      statusLabel: STATUS_LABEL[run.status],
      // The approval message is ours (Markdown on purpose); a reason may be the agent's, which the
      // workflow's code (a fork's, even) can write: shown as text, never as a link or HTML of ours.
      waiting,
      reason: run.reason,
      trigger: describeTrigger(run),
      provider: run.workflow.provider,
      resources: describeResources(run.workflow.resources),
      machine: run.machine?.description ?? "not yet assigned",
      facts: machineFactsView(machineFacts(run, now()), run.workflow.resources.interruptible),
      provisioningNotes: run.provisioningNotes ?? [],
      attempts: describeAttempts(run),
      approvedBy: run.approval?.state === "approved" ? (run.approval.by === "api" ? "the API" : `@${run.approval.by}`) : undefined,
      commit: run.commit.slice(0, 12),
      duration: runDuration(run, now()),
      dependencies: deps_,
      runId: run.id,
      runUrl: runUrl(deps.publicUrl, run.id),
      fork: run.trigger.fork === true,
      artifacts: links,
      artifactsOmitted: omitted,
    });
    const overhead = 600;
    const window = logTailWindow(tail, GITHUB_LIMITS.checkRunText - overhead);
    const text =
      run.logBytes === 0
        ? undefined
        : render("check-run-text", {
            tail: window.text,
            omittedBytes: window.omittedBytes,
            omitted: formatBytes(window.omittedBytes),
            logUrl: `${runUrl(deps.publicUrl, run.id)}/log`,
          });
    return {
      title: `${run.workflow.name} ${STATUS_LABEL[run.status]}`.slice(0, 200),
      summary: truncate(summary, GITHUB_LIMITS.checkRunSummary),
      ...(text === undefined ? {} : { text: truncate(text, GITHUB_LIMITS.checkRunText) }),
    };
  };

  /** A run whose submitting job failed before creating its check run still gets one. */
  const withCheckRun = async (run: Run): Promise<Run> => {
    if (run.checkRunId !== undefined) return run;
    await ensureCheckRun(deps, run);
    return deps.store.get(run.id);
  };

  return {
    async progress(given, tail) {
      const run = await withCheckRun(given);
      if (run.checkRunId === undefined) return;
      const { owner, repo } = splitRepo(run.repo);
      // A log-tail update is skipped, not queued, while the installation's budget is short or a
      // rate-limit window is open: the next tick sends the newer tail, and conclusions keep room.
      const send = deps.github.requestIfFree?.bind(deps.github) ?? deps.github.request.bind(deps.github);
      await send("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
        owner,
        repo,
        check_run_id: run.checkRunId,
        // A run held for approval (the budget gate) has not started: GitHub shows it queued.
        status: run.status === "submitted" ? "queued" : "in_progress",
        ...(run.startedAt !== undefined ? { started_at: new Date(run.startedAt).toISOString() } : {}),
        output: await output(run, tail),
        actions: [STOP_ACTION],
      });
    },

    async conclude(given, tail, options) {
      const run = await withCheckRun(given);
      // Another process holds the creation guard right now: try again shortly (the supervisor retries).
      if (run.checkRunId === undefined) throw new DstackError("unavailable", `the check run of ${run.id} is being created`);
      const { owner, repo } = splitRepo(run.repo);
      const conclusion = conclusionOf(run.status);
      if (conclusion !== undefined && !(options?.mayBePublished === true && (await isCompleted(deps.github, run.repo, run.checkRunId)))) {
        await deps.github.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
          owner,
          repo,
          check_run_id: run.checkRunId,
          status: "completed",
          conclusion,
          completed_at: new Date(run.finishedAt ?? now()).toISOString(),
          output: await output(run, tail),
          actions: [RERUN_ACTION],
        });
      }
      await publishRunComment({ ...deps, now }, run);
    },
  };
}

/** Whether the check run is completed already (a supervisor died after publishing, before recording it). */
async function isCompleted(github: GitHubClient, fullName: string, checkRunId: number): Promise<boolean> {
  const { owner, repo } = splitRepo(fullName);
  const res = await github.request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", { owner, repo, check_run_id: checkRunId });
  return (res.data as { status?: string }).status === "completed";
}
