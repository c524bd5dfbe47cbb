import type { ArtifactStore } from "../artifacts/index.js";
import { GITHUB_LIMITS, render, truncate } from "../render.js";
import type { RunStore } from "../runs/run-store.js";
import { formatDollars, machineFacts } from "../runs/machine-facts.js";
import { runDuration, STATUS_ICON, STATUS_LABEL } from "../runs/run-view.js";
import { isTerminal, type Run } from "../runs/types.js";
import { splitRepo, type GitHubClient } from "./client.js";
import { artifactLinks, LINK_TTL_SECONDS, runUrl } from "./run-links.js";

export interface RunCommentDeps {
  github: GitHubClient;
  artifacts: ArtifactStore;
  store: RunStore;
  publicUrl: string;
  now: () => number;
}

/** More artifact files than this in one run are folded into a `<details>` block. */
const COLLAPSE_AFTER_FILES = 10;
/** How long the comment's id is remembered (a run group never lasts longer). */
const COMMENT_ID_TTL_SECONDS = 30 * 24 * 3600;
/** A lock holder that died frees the lock after this long. */
const LOCK_MS = 30_000;

/**
 * The one PR (or issue) comment of a `/dstack run` command: posted when the first run of its group
 * ends, then edited in place (PATCH) as the other runs end, so a command with dependencies yields one
 * comment, not one per run. Idempotent: a supervisor that concludes again re-renders the same comment.
 */
export async function publishRunComment(deps: RunCommentDeps, run: Run): Promise<void> {
  const issue = run.trigger.prNumber ?? run.trigger.issueNumber;
  if (run.trigger.kind !== "comment" || issue === undefined) return;
  const { owner, repo } = splitRepo(run.repo);
  const idKey = deps.store.key("group", run.groupId, "comment");
  await withLock(deps.store, deps.store.key("group", run.groupId, "comment-lock"), async () => {
    const runs = await deps.store.groupRuns(run.groupId);
    const body = truncate(render("run-comment", await commentView(deps, runs.length > 0 ? runs : [run])), GITHUB_LIMITS.commentBody);
    const existing = await deps.store.redis.get(idKey);
    if (existing !== null) {
      await deps.github.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: Number(existing), body });
      return;
    }
    const res = await deps.github.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number: issue, body });
    await deps.store.redis.set(idKey, String((res.data as { id: number }).id), "EX", COMMENT_ID_TTL_SECONDS);
  });
}

async function commentView(deps: RunCommentDeps, runs: Run[]) {
  const now = deps.now();
  const views = await Promise.all(
    runs.map(async (r) => {
      const { links, omitted } = r.status === "done" ? await artifactLinks(deps, r) : { links: [], omitted: 0 };
      const costDollars = isTerminal(r.status) ? machineFacts(r, now)?.costDollars : undefined;
      return {
        costDollars,
        cost: costDollars === undefined ? undefined : formatDollars(costDollars),
        icon: STATUS_ICON[r.status],
        workflow: r.workflow.name,
        statusLabel: STATUS_LABEL[r.status],
        reason: r.status === "done" ? undefined : r.reason,
        runId: r.id,
        runUrl: runUrl(deps.publicUrl, r.id),
        duration: isTerminal(r.status) ? runDuration(r, now) : undefined,
        artifacts: links,
        artifactsOmitted: omitted,
        artifactCount: r.artifacts.length,
        collapsed: r.artifacts.length > COLLAPSE_AFTER_FILES,
      };
    }),
  );
  const costs = views.flatMap((v) => (v.costDollars === undefined ? [] : [v.costDollars]));
  return {
    runs: views,
    totalCost: costs.length === 0 ? undefined : formatDollars(costs.reduce((a, b) => a + b, 0)),
    commit: (runs[0]?.commit ?? "").slice(0, 7),
    anyArtifacts: views.some((v) => v.artifacts.length > 0),
    expires: `in 7 days (${new Date(now + LINK_TTL_SECONDS * 1000).toISOString().slice(0, 10)})`,
  };
}

/** A Redis lock around `fn`, so two runs of a group ending together post one comment, not two. */
async function withLock(store: RunStore, key: string, fn: () => Promise<void>): Promise<void> {
  const token = `${process.pid}:${Math.random()}`;
  const deadline = Date.now() + LOCK_MS;
  while ((await store.redis.set(key, token, "PX", LOCK_MS, "NX")) !== "OK") {
    if (Date.now() > deadline) break; // a stuck holder: publishing twice beats never publishing
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await fn();
  } finally {
    if ((await store.redis.get(key)) === token) await store.redis.del(key);
  }
}
