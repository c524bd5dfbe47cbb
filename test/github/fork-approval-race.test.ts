import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, makePullRequestPayload, signAndSend, type IssueCommentCreatedPayload } from "../helpers/webhooks.js";

// A writer's `/dstack run` on a fork's PR approves the head the writer saw (DESIGN §5, issue #9),
// however late the comment is processed.

const OWNER = "acme";
const REPO = "forkrace";
const FULL = `${OWNER}/${REPO}`;
const WORKFLOWS = `workflows:
  - name: env
    provider: bash
    commands:
      - echo "secret vars=$(env | grep -c '^DEPLOY_TOKEN=')"
`;

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let forkPr: number;
let headA: string;
let nextComment = 1;

beforeAll(async () => {
  redis = await startRedis("fork-race");
  github = await startGitHubDouble();
  github.addRepo({ owner: OWNER, name: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  github.setPermission(OWNER, REPO, "alice", "write");
  ({ number: forkPr, head: headA } = addForkPr("from-fork"));
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
  const put = await fetch(`${service.url}/api/v1/repos/${FULL}/secrets/DEPLOY_TOKEN`, {
    method: "PUT",
    headers: { authorization: `Bearer ${service.keys.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ value: "s3cr3t-deploy-token" }),
  });
  expect(put.status).toBeLessThan(300);
});

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
});

/** A pull request from mallory's fork, one commit past `main`. */
function addForkPr(branch: string): { number: number; head: string } {
  github.createBranch(OWNER, REPO, branch);
  const head = github.commit(OWNER, REPO, { "fork.txt": `${branch}\n` }, { branch });
  return { number: github.addPullRequest({ owner: OWNER, repo: REPO, headRef: branch, headRepoFullName: `mallory/${REPO}`, user: "mallory" }), head };
}

/** The fork pushes a commit to the pull request's branch (on the double; no webhook yet). */
function forkPush(pr: number, branch: string): string {
  const sha = github.commit(OWNER, REPO, { "fork.txt": `${branch} ${Date.now()}\n` }, { branch });
  github.pushToPullRequest(OWNER, REPO, pr, sha);
  return sha;
}

/** A writer's comment as GitHub stores it (its `created_at` is now); its webhook is sent by `deliver`. */
function write(pr: number, body: string): { commentId: number; payload: IssueCommentCreatedPayload } {
  const commentId = nextComment++;
  const stored = github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber: pr, body, user: "alice", id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: pr, isPullRequest: true, body, user: "alice", commentId, createdAt: stored.created_at });
  return { commentId, payload };
}

async function deliver(payload: IssueCommentCreatedPayload): Promise<void> {
  expect((await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
}

/** Delivers the fork PR's `pull_request` event and waits until the service handled it (it validates the head). */
async function prEvent(pr: number, action: "opened" | "synchronize", headSha: string): Promise<void> {
  const payload = makePullRequestPayload({ owner: OWNER, repo: REPO, installationId: github.installationId, action, number: pr, headSha, headRepoFullName: `mallory/${REPO}` });
  expect((await signAndSend(service.webhookUrl, { event: "pull_request", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
  await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: workflows.yaml" && c.head_sha === headSha && c.status === "completed"), { timeoutMs: 10_000 });
}

/** GitHub's timestamps are whole seconds: wait into the next one so "before" and "after" are told apart. */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1500));
}

/** Waits for the `count`-th finished `dstack: env` check run at `sha` and returns what its run saw. */
async function completedRun(sha: string, count = 1): Promise<{ text: string; fork: boolean | undefined }> {
  const done = await github.waitFor(
    (g) => {
      const checks = g.checkRuns.filter((c) => c.name === "dstack: env" && c.head_sha === sha && c.status === "completed");
      return checks.length >= count ? checks : undefined;
    },
    { timeoutMs: 20_000 },
  );
  const check = done[count - 1] ?? done[0];
  if (check === undefined) throw new Error("no check run");
  const run = await service.store.get(check.external_id ?? "");
  expect({ commit: run.commit, conclusion: check.conclusion }).toEqual({ commit: sha, conclusion: "success" });
  return { text: check.output.text ?? "", fork: run.trigger.fork };
}

async function runsAt(sha: string): Promise<number> {
  return (await service.store.list({ repo: FULL, limit: 100 })).filter((r) => r.commit === sha).length;
}

function changedReply(pr: number, sha: string) {
  return github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("the pull request changed after this command") && c.body.includes(sha.slice(0, 7))), {
    timeoutMs: 10_000,
  });
}

function eyesOn(commentId: number): boolean {
  return github.reactions.some((r) => r.commentId === commentId && r.content === "eyes");
}

describe("a writer's /dstack run on a fork's pull request approves the head the writer saw", () => {
  let headB: string;

  it("runs the head the comment was written on, without secrets", async () => {
    await prEvent(forkPr, "opened", headA);
    await nextSecond();
    const { commentId, payload } = write(forkPr, "/dstack run env");
    await deliver(payload);
    const run = await completedRun(headA);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=0"), eyes: eyesOn(commentId) }).toEqual({ fork: true, secrets: true, eyes: true });
  }, 30_000);

  it("refuses a comment written before a push it is processed after, with a reply and no 👀; asking again runs the new head", async () => {
    const { commentId, payload } = write(forkPr, "/dstack run env");
    await nextSecond();
    headB = forkPush(forkPr, "from-fork");
    await prEvent(forkPr, "synchronize", headB); // the push's event is handled before the comment's (a queue delay)
    await deliver(payload);
    const reply = await changedReply(forkPr, headB);
    expect(reply.body).toContain("a writer must ask again");
    await settle();
    expect({ eyes: eyesOn(commentId), runsAtB: await runsAt(headB), runsAtA: await runsAt(headA) }).toEqual({ eyes: false, runsAtB: 0, runsAtA: 1 });

    await nextSecond();
    const again = write(forkPr, "/dstack run env");
    await deliver(again.payload);
    const run = await completedRun(headB);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=0"), eyes: eyesOn(again.commentId) }).toEqual({ fork: true, secrets: true, eyes: true });
  }, 30_000);

  it("does not run a new push for the old comment delivered again days later", async () => {
    const old = write(forkPr, "/dstack run env");
    await deliver(old.payload);
    await github.waitFor(() => eyesOn(old.commentId), { timeoutMs: 10_000 });
    await completedRun(headB, 2);
    const before = await runsAt(headB);
    await nextSecond();
    const headC = forkPush(forkPr, "from-fork");
    await prEvent(forkPr, "synchronize", headC);
    // Days later the comment's dedupe keys have expired (3 days) and GitHub delivers it again.
    const stale = await service.store.redis.keys(`${redis.prefix}:cmd:${FULL}:${old.commentId}:*`);
    expect(stale.length).toBeGreaterThan(0);
    await service.store.redis.del(...stale);
    await deliver(old.payload);
    await changedReply(forkPr, headC);
    await settle();
    expect({ runsAtC: await runsAt(headC), runsAtB: await runsAt(headB) }).toEqual({ runsAtC: 0, runsAtB: before });
  }, 40_000);

  it("with no record of the pull request, refuses a comment the pull request changed after, and runs one it did not", async () => {
    const quiet = addForkPr("quiet-fork"); // no pull_request events reach the service (sent before it was installed)
    const fresh = write(quiet.number, "/dstack run env");
    await deliver(fresh.payload);
    expect((await completedRun(quiet.head)).fork).toBe(true);

    const { number: pr2 } = addForkPr("quiet-fork-2");
    const late = write(pr2, "/dstack run env");
    await nextSecond();
    const pushed = forkPush(pr2, "quiet-fork-2");
    await deliver(late.payload);
    await changedReply(pr2, pushed);
    await settle();
    expect({ eyes: eyesOn(late.commentId), runs: await runsAt(pushed) }).toEqual({ eyes: false, runs: 0 });
    // Refusing recorded the head it saw: a writer's new request runs it.
    await nextSecond();
    const again = write(pr2, "/dstack run env");
    await deliver(again.payload);
    expect((await completedRun(pushed)).text).toContain("secret vars=0");
  }, 40_000);

  it("leaves a same-repository pull request as it was: the head at processing time runs, with secrets", async () => {
    github.createBranch(OWNER, REPO, "feature");
    github.commit(OWNER, REPO, { "feature.txt": "1\n" }, { branch: "feature" });
    const pr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature" });
    const { payload } = write(pr, "/dstack run env");
    await nextSecond();
    const pushed = github.commit(OWNER, REPO, { "feature.txt": "2\n" }, { branch: "feature" });
    github.pushToPullRequest(OWNER, REPO, pr, pushed);
    await deliver(payload);
    const run = await completedRun(pushed);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=1") }).toEqual({ fork: false, secrets: true });
  }, 30_000);

  it("never runs the commands of an edited comment", async () => {
    const before = (await service.store.list({ repo: FULL, limit: 100 })).length;
    const { commentId, payload } = write(forkPr, "/dstack run env");
    const edited = { ...payload, action: "edited", changes: { body: { from: "looks good" } } };
    expect((await signAndSend(service.webhookUrl, { event: "issue_comment", payload: edited, secret: WEBHOOK_SECRET })).status).toBe(200);
    await settle();
    expect({ eyes: eyesOn(commentId), runs: (await service.store.list({ repo: FULL, limit: 100 })).length }).toEqual({ eyes: false, runs: before });
  }, 20_000);
});
