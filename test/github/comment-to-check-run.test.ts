import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { GitHubDouble } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

const OWNER = "acme";
const REPO = "ml";
const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - echo "hello from dstack"
      - mkdir -p out
      - echo "result 42" > out/result.txt
    artifacts: [out]
  - name: failing
    provider: bash
    commands:
      - echo "about to fail"
      - exit 3
`;

let fixture: PrFixture;
let github: GitHubDouble;
let service: TestService;
let pr: number;
let headSha: string;

beforeAll(async () => {
  fixture = await startPrFixture({
    name: "comment",
    owner: OWNER,
    repo: REPO,
    files: { ".dstack/workflows.yaml": WORKFLOWS, "README.md": "# ml\n" },
    readers: ["reader"],
  });
  ({ github, service, pr, headSha } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

describe("a PR comment becomes a finished check run", () => {
  it("runs `/dstack run hello`: 👀, check run queued -> in_progress -> success, log tail, artifact link that downloads", async () => {
    const sent = await fixture.comment("/dstack run hello");
    expect(sent.status).toBe(202);
    await github.waitFor((g) => g.reactions.find((r) => r.content === "eyes" && r.commentId === sent.commentId), { timeoutMs: 10_000 });
    const created = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello"), { timeoutMs: 10_000 });
    expect(created.head_sha).toBe(headSha);
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("success");
    expect(done.output.text).toContain("hello from dstack");
    expect(done.output.summary).toContain("out/result.txt");
    const updates = github.checkRunUpdates(done.id).map((u) => u.body.status);
    expect(updates[0]).toBe("queued");
    expect(updates).toContain("completed");
    expect(done.external_id).toMatch(/^[a-z0-9]+$/);
    expect(done.details_url).toBe(`${service.config.publicUrl}/runs/${done.external_id}`);
    const page = await fetch(done.details_url ?? "", { headers: { authorization: `Bearer ${service.keys.apiToken}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("hello from dstack");
    expect(html).toContain("done");
    expect((await fetch(done.details_url ?? "")).status).not.toBe(200);

    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("dstack: hello")), { timeoutMs: 10_000 });
    const link = /\[out\/result\.txt\]\(([^)]+)\)/.exec(report.body);
    expect(link).not.toBeNull();
    const download = await fetch(link?.[1] ?? "");
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("result 42\n");
    github.assertNoViolations();
  });

  it("concludes `failure` with the exit code when the workflow fails", async () => {
    await fixture.comment("/dstack run failing");
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: failing" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("failure");
    expect(done.output.summary).toContain("exited with code 3");
    expect(done.output.text).toContain("about to fail");
  });

  it("refuses a commenter without write permission with a reply, and runs nothing", async () => {
    const before = github.checkRuns.length;
    const sent = await fixture.comment("/dstack run hello", "reader");
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("@reader needs write")), { timeoutMs: 10_000 });
    expect(reply.body).toContain("to start runs (they have `read`)");
    expect(github.checkRuns.length).toBe(before);
    expect(github.reactions.some((r) => r.commentId === sent.commentId)).toBe(false);
  });

  it("titles a refused `/dstack stop` as nothing stopped, not nothing ran", async () => {
    await fixture.comment("/dstack stop abc123", "reader");
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /dstack stop abc123")), { timeoutMs: 10_000 });
    expect(reply.body).toContain("**Nothing stopped**");
    expect(reply.body).toContain("@reader needs write, maintain or admin permission on acme/ml to stop runs");
  });

  it("answers `/dstack run unknown` with the workflows that exist", async () => {
    await fixture.comment("/dstack run helo");
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("> /dstack run helo")), { timeoutMs: 10_000 });
    expect(reply.body).toContain("hello");
    expect(reply.body).toContain("failing");
  });

  it("never starts a second run for a redelivered webhook", async () => {
    const deliveryId = "3f0c0000-1111-2222-3333-444455556666";
    const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: pr, isPullRequest: true, body: "/dstack run failing", user: "alice", commentId: 555 });
    const before = github.checkRuns.filter((c) => c.name === "dstack: failing").length;
    const first = await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET, deliveryId });
    const again = await Promise.all([1, 2, 3].map(() => signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET, deliveryId })));
    expect(first.status).toBe(202);
    for (const r of again) expect(r.status).toBe(200);
    await github.waitFor((g) => g.checkRuns.filter((c) => c.name === "dstack: failing").length > before, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(github.checkRuns.filter((c) => c.name === "dstack: failing").length).toBe(before + 1);
  });

  it("refuses a bad signature with 401 and does nothing", async () => {
    const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: pr, isPullRequest: true, body: "/dstack run hello", user: "alice", commentId: 9999 });
    const res = await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: "wrong-secret" });
    expect(res.status).toBe(401);
  });
});
