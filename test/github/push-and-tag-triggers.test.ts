import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { GitHubDouble } from "../helpers/github-double.js";
import { startRepoFixture, type RepoFixture } from "../helpers/repo-fixture.js";
import { WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { loadWebhookExample, makeCheckRunRerequestedPayload, makeCreatePayload, makeIssueCommentPayload, makePushPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * Pushes and Git tags delivered as GitHub's real payloads: the `dstack: workflows.yaml` check run
 * with annotations, `on: push` / `on: tag` workflows, and tags given to (and taken from) runs.
 */

const OWNER = "acme";
const REPO = "triggers";
const ZERO = "0".repeat(40);
const WORKFLOWS = `workflows:
  - name: build
    provider: bash
    on:
      push:
        branches: [main, "release/*"]
    commands:
      - mkdir -p out
      - echo "built $DSTACK_RUN_ID" > out/build.txt
    artifacts: [out]
  - name: publish
    provider: bash
    on: {tag: {tags: ["v*"]}}
    commands:
      - echo "publishing"
  - name: by-hand
    provider: bash
    commands: ["echo only when asked"]
  - name: uses-v1
    provider: bash
    depends-on: [build:v1]
    commands: ['echo "input <$(cat out/build.txt)>"']
  - name: needs-missing
    provider: bash
    on: {push: {branches: ["needs/*"]}}
    depends-on: [build:nope]
    commands: ["cat out/build.txt"]
`;

let fixture: RepoFixture;
let github: GitHubDouble;
let service: TestService;
const full = `${OWNER}/${REPO}`;

function repoFields() {
  return { owner: OWNER, repo: REPO, apiUrl: github.url, webUrl: github.webUrl };
}

async function push(ref: string, after: string, extra: { before?: string; forked?: boolean; forced?: boolean } = {}) {
  const payload = makePushPayload({ ...repoFields(), ref, before: extra.before ?? ZERO, after, forced: extra.forced });
  if (extra.forked === true) (payload.repository as { fork: boolean }).fork = true;
  const res = await signAndSend(service.webhookUrl, { event: "push", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
}

async function refEvent(event: "create" | "delete", tag: string) {
  const payload = makeCreatePayload({ ...repoFields(), ref: tag });
  const res = await signAndSend(service.webhookUrl, { event, payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
}

const checkAt = (name: string, sha: string, status?: string) =>
  github.waitFor((g) => g.checkRuns.find((c) => c.name === name && c.head_sha === sha && (status === undefined || c.status === status)), {
    timeoutMs: 30_000,
    description: `${name} at ${sha.slice(0, 7)}${status === undefined ? "" : ` ${status}`}`,
  });

const settle = () => new Promise((r) => setTimeout(r, 1500));

/** Polls `check` (Redis state, not the double's) until it holds. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  fixture = await startRepoFixture({ name: "triggers", owner: OWNER, repo: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  ({ github, service } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

describe("pushes and Git tags", () => {
  let mainSha: string;

  it("reports a valid .dstack/ as a successful `dstack: workflows.yaml` check run and runs the `on: push` workflows of that branch only", async () => {
    mainSha = github.commit(OWNER, REPO, { "data.txt": "1\n" });
    await push("refs/heads/main", mainSha);
    const validation = await checkAt("dstack: workflows.yaml", mainSha, "completed");
    expect(validation.conclusion).toBe("success");
    expect(validation.output.summary).toContain("`build`");
    const build = await checkAt("dstack: build", mainSha, "completed");
    expect(build.conclusion).toBe("success");
    expect(build.output.summary).toContain("push by @acme to main");
    await settle();
    expect(github.checkRuns.filter((c) => c.head_sha === mainSha).map((c) => c.name).sort()).toEqual(["dstack: build", "dstack: workflows.yaml"]);
    github.assertNoViolations();
  });

  it("validates but runs nothing on a branch no `on: push` names", async () => {
    github.createBranch(OWNER, REPO, "topic");
    const sha = github.commit(OWNER, REPO, { "topic.txt": "t\n" }, { branch: "topic" });
    await push("refs/heads/topic", sha);
    expect((await checkAt("dstack: workflows.yaml", sha, "completed")).conclusion).toBe("success");
    await settle();
    expect(github.checkRuns.filter((c) => c.head_sha === sha).map((c) => c.name)).toEqual(["dstack: workflows.yaml"]);
  });

  it("matches branch globs: `release/*` runs on release/1.0", async () => {
    github.createBranch(OWNER, REPO, "release/1.0");
    const sha = github.commit(OWNER, REPO, { "r.txt": "r\n" }, { branch: "release/1.0" });
    await push("refs/heads/release/1.0", sha);
    expect((await checkAt("dstack: build", sha, "completed")).conclusion).toBe("success");
  });

  it("says on a failed check run why a pushed workflow could not start (a missing tag)", async () => {
    github.createBranch(OWNER, REPO, "needs/1");
    const sha = github.commit(OWNER, REPO, { "n.txt": "n\n" }, { branch: "needs/1" });
    await push("refs/heads/needs/1", sha);
    const refused = await checkAt("dstack: needs-missing", sha, "completed");
    expect(refused.conclusion).toBe("failure");
    expect(refused.output.summary).toContain("no run in acme/triggers is tagged nope");
    expect((await checkAt("dstack: workflows.yaml", sha, "completed")).conclusion).toBe("success");
  });

  it("fails the check with one annotation per problem at its line, 50 per request, and runs nothing", async () => {
    github.createBranch(OWNER, REPO, "broken");
    const count = 60;
    const broken = ["workflows:"];
    for (let i = 0; i < count; i++) broken.push(`  - name: w${i}`, "    provider: bash", "    on: push", "    commands: [echo]", "    bogus: 1");
    const sha = github.commit(OWNER, REPO, { ".dstack/workflows.yaml": broken.join("\n") + "\n" }, { branch: "broken" });
    await push("refs/heads/broken", sha);
    const check = await checkAt("dstack: workflows.yaml", sha, "completed");
    expect(check.conclusion).toBe("failure");
    await github.waitFor((g) => (g.checkRun(check.id)?.output.annotations_count ?? 0) >= count, { timeoutMs: 10_000 });
    const annotations = github.checkRunAnnotations(check.id);
    expect(annotations).toHaveLength(count);
    expect(annotations.map((a) => a.start_line)).toEqual(Array.from({ length: count }, (_, i) => 6 + 5 * i));
    expect(annotations.every((a) => a.path === ".dstack/workflows.yaml" && a.annotation_level === "failure" && a.message.includes("bogus"))).toBe(true);
    const bodies = github.checkRunUpdates(check.id).map((u) => (u.body.output as { annotations?: unknown[] }).annotations?.length ?? 0);
    expect(bodies).toEqual([50, 10]);
    expect(check.output.summary).toContain("60 errors");
    await settle();
    expect(github.checkRuns.filter((c) => c.head_sha === sha).map((c) => c.name)).toEqual(["dstack: workflows.yaml"]);
    github.assertNoViolations();
  });

  it("validates again on GitHub's Re-run of the `dstack: workflows.yaml` check", async () => {
    const first = await checkAt("dstack: workflows.yaml", mainSha, "completed");
    const payload = makeCheckRunRerequestedPayload({
      ...repoFields(),
      checkRunId: first.id,
      headSha: mainSha,
      name: first.name,
      externalId: first.external_id,
      appId: github.appId,
      conclusion: "success",
      sender: "alice",
    });
    expect((await signAndSend(service.webhookUrl, { event: "check_run", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
    const again = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: workflows.yaml" && c.head_sha === mainSha && c.id > first.id), {
      timeoutMs: 10_000,
    });
    expect(again.conclusion).toBe("success");
  });

  it("ignores pushes to a fork", async () => {
    github.createBranch(OWNER, REPO, "forked");
    const sha = github.commit(OWNER, REPO, { "f.txt": "f\n" }, { branch: "forked" });
    await push("refs/heads/main", sha, { forked: true });
    await settle();
    expect(github.checkRuns.filter((c) => c.head_sha === sha)).toEqual([]);
  });

  it("validates a fork's pull request at its head commit, and runs nothing", async () => {
    github.createBranch(OWNER, REPO, "fork-pr");
    const yaml = "workflows:\n  - name: x\n    provider: bash\n    on: push\n    comands: [echo]\n";
    const sha = github.commit(OWNER, REPO, { ".dstack/workflows.yaml": yaml }, { branch: "fork-pr" });
    const number = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "fork-pr", headRepoFullName: "mallory/triggers", user: "mallory" });
    const payload = loadWebhookExample("pull_request", "synchronize") as {
      repository: Record<string, unknown> & { owner: Record<string, unknown> };
      pull_request: { number: number; head: { sha: string; repo: Record<string, unknown> } };
      installation?: { id: number };
    };
    Object.assign(payload.repository, { name: REPO, full_name: full });
    Object.assign(payload.repository.owner, { login: OWNER });
    payload.installation = { id: github.installationId };
    payload.pull_request.number = number;
    payload.pull_request.head.sha = sha;
    Object.assign(payload.pull_request.head.repo, { full_name: "mallory/triggers", name: REPO });
    expect((await signAndSend(service.webhookUrl, { event: "pull_request", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
    const check = await checkAt("dstack: workflows.yaml", sha, "completed");
    expect(check.conclusion).toBe("failure");
    const annotations = github.checkRunAnnotations(check.id);
    expect(annotations.find((a) => a.start_line === 5)?.message).toContain("`comands`");
    expect(annotations.every((a) => a.path === ".dstack/workflows.yaml")).toBe(true);
    await settle();
    expect(github.checkRuns.filter((c) => c.head_sha === sha).map((c) => c.name)).toEqual(["dstack: workflows.yaml"]);
  });

  it("gives a pushed Git tag to the successful runs at its commit, runs `on: tag` workflows once, and `name:tag` dependencies resolve", async () => {
    github.createTag(OWNER, REPO, "v1", mainSha);
    // GitHub sends both a `create` and a `push` of refs/tags/v1: one `publish` run, not two.
    await refEvent("create", "v1");
    await push("refs/tags/v1", mainSha);
    expect((await checkAt("dstack: publish", mainSha, "completed")).conclusion).toBe("success");
    const build = await service.store.resolveTag(full, "build", "v1");
    expect(build?.commit).toBe(mainSha);
    expect(build?.tags).toContain("v1");
    // The `on: tag` run succeeded after the tag was pushed: it gets the tag too.
    await until(async () => (await service.store.resolveTag(full, "publish", "v1"))?.status === "done", "publish tagged v1");
    await settle();
    expect(github.checkRuns.filter((c) => c.name === "dstack: publish")).toHaveLength(1);

    const pr = github.addIssue({ owner: OWNER, repo: REPO, title: "use the tag" });
    github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber: pr, body: "/dstack run uses-v1", user: "alice", id: 77 });
    const payload = makeIssueCommentPayload({ ...repoFields(), issueNumber: pr, isPullRequest: false, body: "/dstack run uses-v1", user: "alice", commentId: 77 });
    await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
    const uses = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: uses-v1" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(uses.conclusion).toBe("success");
    expect(uses.output.text).toContain(`input <built ${build?.id}>`);
  });

  it("moves the tag with the Git tag: the old commit's runs lose it, the new commit's get it", async () => {
    const before = await service.store.resolveTag(full, "build", "v1");
    const sha2 = github.commit(OWNER, REPO, { "data.txt": "2\n" });
    await push("refs/heads/main", sha2, { before: before?.commit });
    await checkAt("dstack: build", sha2, "completed");
    github.createTag(OWNER, REPO, "v1", sha2);
    await push("refs/tags/v1", sha2, { before: before?.commit, forced: true });
    await checkAt("dstack: publish", sha2, "completed");
    const moved = await service.store.resolveTag(full, "build", "v1");
    expect(moved?.commit).toBe(sha2);
    expect((await service.store.get(before?.id ?? "")).tags).not.toContain("v1");
  });

  it("takes the tag away from every run when the Git tag is deleted", async () => {
    const tagged = await service.store.resolveTag(full, "build", "v1");
    await refEvent("delete", "v1");
    await until(async () => (await service.store.resolveTag(full, "build", "v1")) === undefined, "v1 gone");
    expect((await service.store.get(tagged?.id ?? "")).tags).not.toContain("v1");
  });
});
