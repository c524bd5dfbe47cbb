import { runArtifactKey, type ArtifactStore } from "../artifacts/index.js";
import { GITHUB_LIMITS, render, truncate } from "../render.js";
import { logTailWindow } from "../runs/log-tail.js";
import type { RunPublisher } from "../runs/publisher.js";
import type { RunStore } from "../runs/run-store.js";
import {
  conclusionOf,
  describeResources,
  describeTrigger,
  formatBytes,
  isImage,
  runDuration,
  STATUS_ICON,
  STATUS_LABEL,
} from "../runs/run-view.js";
import type { Run } from "../runs/types.js";
import { splitRepo, type GitHubClient } from "./client.js";

export interface CheckRunPublisherDeps {
  github: GitHubClient;
  artifacts: ArtifactStore;
  store: RunStore;
  publicUrl: string;
  now?: () => number;
}

/** Artifact links in summaries and comments: at most this many, valid this long (S3's maximum). */
const MAX_LINKS = 50;
const LINK_TTL_SECONDS = 7 * 24 * 3600;

export function runUrl(publicUrl: string, runId: string): string {
  return `${publicUrl}/runs/${runId}`;
}

/** Publishes a run as its check run `dstack: <workflow>` and, for comment-started runs, a PR comment. */
export function createCheckRunPublisher(deps: CheckRunPublisherDeps): RunPublisher {
  const now = deps.now ?? Date.now;

  const artifactLinks = async (run: Run) => {
    const shown = run.artifacts.slice(0, MAX_LINKS);
    const links = await Promise.all(
      shown.map(async (a) => ({
        path: a.path,
        size: formatBytes(a.sizeBytes),
        image: isImage(a.path),
        url: await deps.artifacts.downloadUrl(runArtifactKey(run.id, a.path), {
          expiresInSeconds: LINK_TTL_SECONDS,
          fileName: a.path.split("/").pop(),
        }),
      })),
    );
    return { links, omitted: run.artifacts.length - shown.length };
  };

  const output = async (run: Run, tail: { offset: number; data: Buffer }) => {
    const deps_ = await Promise.all(
      run.needs.map(async (id) => {
        const need = await deps.store.find(id);
        return { workflow: need?.workflow.name ?? id, status: need?.status ?? "unknown", url: runUrl(deps.publicUrl, id) };
      }),
    );
    const { links, omitted } = run.status === "done" ? await artifactLinks(run) : { links: [], omitted: 0 };
    const summary = render("check-run-summary", {
      statusLabel: STATUS_LABEL[run.status],
      reason: run.reason,
      trigger: describeTrigger(run),
      provider: run.workflow.provider,
      resources: describeResources(run.workflow.resources),
      machine: run.machine?.description ?? "not yet assigned",
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

  return {
    async progress(run, tail) {
      if (run.checkRunId === undefined) return;
      const { owner, repo } = splitRepo(run.repo);
      await deps.github.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
        owner,
        repo,
        check_run_id: run.checkRunId,
        status: "in_progress",
        ...(run.startedAt !== undefined ? { started_at: new Date(run.startedAt).toISOString() } : {}),
        output: await output(run, tail),
      });
    },

    async conclude(run, tail) {
      const { owner, repo } = splitRepo(run.repo);
      const conclusion = conclusionOf(run.status);
      if (run.checkRunId !== undefined && conclusion !== undefined) {
        await deps.github.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
          owner,
          repo,
          check_run_id: run.checkRunId,
          status: "completed",
          conclusion,
          completed_at: new Date(run.finishedAt ?? now()).toISOString(),
          output: await output(run, tail),
        });
      }
      const issue = run.trigger.prNumber ?? run.trigger.issueNumber;
      if (run.trigger.kind !== "comment" || issue === undefined) return;
      // One comment per run, even when an adopted supervisor concludes again after a crash.
      const marker = deps.store.key("run", run.id, "commented");
      if ((await deps.store.redis.set(marker, "1", "EX", 30 * 24 * 3600, "NX")) !== "OK") return;
      const { links, omitted } = run.status === "done" ? await artifactLinks(run) : { links: [], omitted: 0 };
      const body = render("run-comment", {
        icon: STATUS_ICON[run.status],
        workflow: run.workflow.name,
        statusLabel: STATUS_LABEL[run.status],
        reason: run.status === "done" ? undefined : run.reason,
        runId: run.id,
        runUrl: runUrl(deps.publicUrl, run.id),
        commit: run.commit.slice(0, 7),
        duration: runDuration(run, now()),
        artifacts: links,
        artifactsOmitted: omitted,
        expires: `in 7 days (${new Date(now() + LINK_TTL_SECONDS * 1000).toISOString().slice(0, 10)})`,
      });
      try {
        await deps.github.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
          owner,
          repo,
          issue_number: issue,
          body: truncate(body, GITHUB_LIMITS.commentBody),
        });
      } catch (err) {
        await deps.store.redis.del(marker);
        throw err;
      }
    },
  };
}
