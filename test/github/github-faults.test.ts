import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { secondaryRateLimit, type GitHubDouble, type RecordedRequest } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import type { TestRedis } from "../helpers/redis.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * GitHub failing under the app (the double's `failNext`): 5xx and secondary rate limits are retried
 * with backoff by the worker job or the supervisor, never dropped and never doubled; permanent
 * errors are not retried. Octokit's own retry and throttling are off here (TestOctokit).
 */

const OWNER = "acme";
const REPO = "faults";
const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands: ['echo "hello"']
  - name: again
    provider: bash
    commands: ['echo "again"']
  - name: third
    provider: bash
    commands: ['echo "third"']
  - name: fourth
    provider: bash
    commands: ['echo "fourth"']
`;

let fixture: PrFixture;
let redis: TestRedis;
let github: GitHubDouble;
/** The fixture's service, until the last test restarts it. */
let service: TestService;
let pr: number;

async function comment(body: string) {
  const sent = await fixture.comment(body);
  expect(sent.status).toBe(202);
  return sent;
}

const concludes = (r: RecordedRequest) =>
  r.method === "PATCH" && /\/check-runs\/\d+$/.test(r.path) && (r.body as { status?: string } | undefined)?.status === "completed";

const requestsTo = (method: string, pattern: RegExp) => github.requests.filter((r) => r.method === method && pattern.test(r.path));

beforeAll(async () => {
  fixture = await startPrFixture({ name: "faults", owner: OWNER, repo: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  ({ redis, github, service, pr } = fixture);
});

afterAll(async () => {
  // The service the last test started in place of the fixture's (stopping the fixture's twice is harmless).
  await service?.stop();
  await fixture?.stop();
});

describe("GitHub failing", () => {
  it("retries a command whose check run creation got a 500, without submitting the run twice", async () => {
    github.failNext("POST /repos/{owner}/{repo}/check-runs", { status: 500 });
    await comment("/dstack run hello");
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("success");
    expect(requestsTo("POST", /\/check-runs$/)).toHaveLength(2);
    expect(github.checkRuns.filter((c) => c.name === "dstack: hello")).toHaveLength(1);
    const runs = (await service.store.list({ repo: `${OWNER}/${REPO}` })).filter((r) => r.workflow.name === "hello");
    expect(runs.map((r) => r.id)).toEqual([done.external_id]);
  });

  it("waits out a secondary rate limit (403 with retry-after) on a reply, then replies once", async () => {
    const isTheReply = (r: RecordedRequest) => r.method === "POST" && /\/issues\/\d+\/comments$/.test(r.path) && JSON.stringify(r.body).includes("/dstack run helo");
    github.failNext(isTheReply, secondaryRateLimit(1));
    await comment("/dstack run helo");
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /dstack run helo")), { timeoutMs: 20_000 });
    expect(reply.body).toContain("hello");
    const posts = github.requests.filter(isTheReply);
    expect(posts).toHaveLength(2);
    expect((posts[1]?.at.getTime() ?? 0) - (posts[0]?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(900);
    expect(github.commentsOn(OWNER, REPO, pr).filter((c) => c.body.startsWith("> /dstack run helo"))).toHaveLength(1);
  });

  it("publishes a run's conclusion after GitHub answered 502 three times, and only then marks it concluded", async () => {
    github.failNext(concludes, { status: 502, times: 3 });
    await comment("/dstack run again");
    const created = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: again"), { timeoutMs: 20_000 });
    await github.waitFor((g) => g.requests.filter(concludes).length >= 2, { timeoutMs: 20_000 });
    const meanwhile = await service.store.get(created.external_id);
    expect(meanwhile.status).toBe("done");
    expect(meanwhile.concluded).toBe(false);
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.id === created.id && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("success");
    expect(github.requests.filter(concludes).length).toBeGreaterThanOrEqual(4);
    const deadline = Date.now() + 20_000; // the PR comment goes out first: seconds on a loaded machine
    while (!(await service.store.get(created.external_id)).concluded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await service.store.get(created.external_id)).concluded).toBe(true);
  });

  it("publishes a run's conclusion through a secondary rate limit", async () => {
    github.failNext(concludes, secondaryRateLimit(1, 2));
    await comment("/dstack run third");
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: third" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("success");
  });

  it("adds the 👀 on a retry after its first try failed, without running the command again", async () => {
    github.failNext("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", { status: 503 });
    const before = github.checkRuns.filter((c) => c.name === "dstack: hello").length;
    const sent = await comment("/dstack run hello");
    await github.waitFor((g) => g.reactions.find((r) => r.commentId === sent.commentId && r.content === "eyes"), { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(github.checkRuns.filter((c) => c.name === "dstack: hello")).toHaveLength(before + 1);
  });

  it("does not retry a permanent error (404): the event job fails after one attempt", async () => {
    github.failNext("GET /repos/{owner}/{repo}/pulls/{pull_number}", { status: 404 });
    const sent = await comment("/dstack run hello");
    const deadline = Date.now() + 10_000;
    let state = "";
    while (Date.now() < deadline) {
      state = (await service.queues.events.getJobState(sent.deliveryId)) as string;
      if (state === "failed") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe("failed");
    const job = await service.queues.events.getJob(sent.deliveryId);
    expect(job?.attemptsMade).toBe(1);
  });

  it("publishes a run's conclusion when GitHub comes back, even across a service restart", async () => {
    let down = true;
    const concludesFourth = (r: RecordedRequest) => down && concludes(r) && (r.body as { output?: { title?: string } }).output?.title?.startsWith("fourth ") === true;
    github.failNext(concludesFourth, { status: 503, times: 1_000_000 });
    await comment("/dstack run fourth");
    const created = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: fourth"), { timeoutMs: 20_000 });
    await github.waitFor((g) => g.requests.filter(concludesFourth).length >= 2, { timeoutMs: 20_000 });
    const dataDir = service.dataDir;
    await service.close();
    service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github, dataDir });
    expect((await service.store.get(created.external_id)).concluded).toBe(false);
    down = false;
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.id === created.id && c.status === "completed"), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("success");
    const deadline = Date.now() + 20_000;
    while (!(await service.store.get(created.external_id)).concluded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await service.store.get(created.external_id)).concluded).toBe(true);
  });
});
