import { expect } from "@jest/globals";
import type { CheckRun } from "./github-double.js";
import { startRepoFixture, type RepoFixture } from "./repo-fixture.js";
import { WEBHOOK_SECRET, type TestService } from "./service.js";
import { makeIssueCommentPayload, makePullRequestPayload, signAndSend, type IssueCommentCreatedPayload } from "./webhooks.js";

/** A workflow that prints how many secrets it got: fork runs must print `secret vars=0`. */
const WORKFLOWS = `workflows:
  - name: env
    provider: bash
    commands:
      - echo "secret vars=$(env | grep -c '^DEPLOY_TOKEN=')"
`;

/**
 * A repository with the secret `DEPLOY_TOKEN`, pull requests from mallory's fork on the GitHub double,
 * the service watching it, and alice (a writer) commenting: for the fork approval tests.
 */
export interface ForkPrFixture extends RepoFixture {
  /** `owner/repo`. */
  full: string;
  /** A pull request from the fork's `branch`, one commit past `main` (the double only; no webhook). */
  addForkPr(branch: string): { number: number; head: string };
  /** The fork pushes a new commit to the pull request's branch (the double only; no webhook yet). */
  forkPush(pr: number, branch: string): string;
  /** Delivers the pull request's `pull_request` event and waits until the service validated `headSha`. */
  prEvent(pr: number, action: "opened" | "synchronize", headSha: string): Promise<void>;
  /** alice's comment as GitHub stores it (`created_at` is now, whole seconds); `deliver` sends its webhook. */
  write(pr: number, body: string): { commentId: number; payload: IssueCommentCreatedPayload };
  /** Delivers a webhook, signed, and expects it accepted. */
  deliver(payload: unknown, event?: string): Promise<void>;
  /** How many runs the repository has at `sha`. */
  runsAt(sha: string): Promise<number>;
  /** Waits for the reply refusing a command because the pull request changed (naming `sha`). */
  changedReply(pr: number, sha: string): Promise<{ body: string }>;
  eyesOn(commentId: number): boolean;
  /** The finished `dstack: env` check runs at `sha`, once there are `count`. */
  envChecks(sha: string, count: number): Promise<CheckRun[]>;
}

export async function startForkPrFixture(name: string): Promise<ForkPrFixture> {
  const fixture = await startRepoFixture({ name, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  const { github, service, owner, repo } = fixture;
  const full = `${owner}/${repo}`;
  const put = await fetch(`${service.url}/api/v1/repos/${full}/secrets/DEPLOY_TOKEN`, {
    method: "PUT",
    headers: { authorization: `Bearer ${service.keys.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ value: "s3cr3t-deploy-token" }),
  });
  expect(put.status).toBeLessThan(300);
  let nextComment = 1;
  const deliver = async (payload: unknown, event = "issue_comment") => {
    expect((await signAndSend(service.webhookUrl, { event, payload, secret: WEBHOOK_SECRET })).status).toBe(202);
  };
  return {
    ...fixture,
    full,
    addForkPr(branch) {
      github.createBranch(owner, repo, branch);
      const head = github.commit(owner, repo, { "fork.txt": `${branch}\n` }, { branch });
      return { number: github.addPullRequest({ owner, repo, headRef: branch, headRepoFullName: `mallory/${repo}`, user: "mallory" }), head };
    },
    forkPush(pr, branch) {
      const sha = github.commit(owner, repo, { "fork.txt": `${branch} ${Date.now()}\n` }, { branch });
      github.pushToPullRequest(owner, repo, pr, sha);
      return sha;
    },
    async prEvent(pr, action, headSha) {
      const payload = makePullRequestPayload({ owner, repo, installationId: github.installationId, action, number: pr, headSha, headRepoFullName: `mallory/${repo}` });
      await deliver(payload, "pull_request");
      await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: workflows.yaml" && c.head_sha === headSha && c.status === "completed"), { timeoutMs: 10_000 });
    },
    write(pr, body) {
      const commentId = nextComment++;
      const stored = github.addIssueComment({ owner, repo, issueNumber: pr, body, user: "alice", id: commentId });
      const payload = makeIssueCommentPayload({ owner, repo, issueNumber: pr, isPullRequest: true, body, user: "alice", commentId, createdAt: stored.created_at });
      return { commentId, payload };
    },
    deliver,
    async runsAt(sha) {
      return (await service.store.list({ repo: full, limit: 100 })).filter((r) => r.commit === sha).length;
    },
    changedReply(pr, sha) {
      return github.waitFor((g) => g.commentsOn(owner, repo, pr).find((c) => c.body.includes("a writer must ask again") && c.body.includes(sha.slice(0, 7))), {
        timeoutMs: 10_000,
      });
    },
    eyesOn(commentId) {
      return github.reactions.some((r) => r.commentId === commentId && r.content === "eyes");
    },
    envChecks(sha, count) {
      return github.waitFor(
        (g) => {
          const checks = g.checkRuns.filter((c) => c.name === "dstack: env" && c.head_sha === sha && c.status === "completed");
          return checks.length >= count ? checks : undefined;
        },
        { timeoutMs: 20_000 },
      );
    },
  };
}

/** GitHub's timestamps are whole seconds: wait into the next one so "before" and "after" are told apart. */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

/** Time for the service to act on what it was sent, before checking that it did nothing. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1500));
}

/**
 * Delivers a fork pull request's `pull_request` event (`opened` by default; `synchronize` after a
 * push), as GitHub does, and waits
 * until the service recorded its head and a new second began: a writer's comment written after this
 * approves that head (src/github/fork-head.ts refuses a head it had no record of before the comment's
 * second).
 */
export async function announceForkPr(
  service: Pick<TestService, "webhookUrl" | "store">,
  prefix: string,
  pr: { owner: string; repo: string; number: number; headSha: string; headRepoFullName: string; action?: "opened" | "synchronize"; installationId?: number },
): Promise<void> {
  const payload = makePullRequestPayload({ ...pr, action: pr.action ?? "opened" });
  expect((await signAndSend(service.webhookUrl, { event: "pull_request", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
  const key = `${prefix}:pr-head:${pr.owner}/${pr.repo}:${pr.number}`;
  while ((await service.store.redis.hget(key, "sha")) !== pr.headSha) await new Promise((resolve) => setTimeout(resolve, 25));
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
}
