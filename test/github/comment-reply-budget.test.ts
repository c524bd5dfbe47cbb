import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { GitHubRateGate } from "../../src/github/rate-gate.js";
import type { RecordedRequest } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";

/**
 * Anyone may comment `/dstack ...` on a public repository, and each refusal is a reply that spends the
 * installation's shared budget of content-creating requests (80 a minute, for every repository of
 * the installation). A commenter without write permission gets one reply per comment at most, and
 * only from the part of the budget that is not kept for conclusions: spam cannot hold up the runs
 * that writers start. Budget scaled: 40 a minute, a quarter of it kept.
 */

const RATE = { limit: 40, windowMs: 60_000, marginMs: 0, hourLimit: 100_000, reservedShare: 0.25 };

let fixture: PrFixture;
let redis: Redis;

beforeAll(async () => {
  fixture = await startPrFixture({
    name: "comment-reply-budget",
    files: { ".dstack/workflows.yaml": "workflows:\n  - name: hello\n    provider: bash\n    commands: ['echo hello']\n" },
    service: { overrides: { githubRate: RATE } },
  });
  redis = new Redis(fixture.redis.url);
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await fixture?.stop();
});

const repliesTo = (r: RecordedRequest) => r.method === "POST" && r.path === `/repos/${fixture.owner}/${fixture.repo}/issues/${fixture.pr}/comments`;
const asksPermissionOf = (login: string) => (r: RecordedRequest) => r.method === "GET" && r.path.endsWith(`/collaborators/${login}/permission`);

/**
 * Until every delivery sent so far has been handled: no event job waiting, running or waiting for
 * a retry. A fixed pause was not enough on a loaded machine for the count of replies to be final.
 */
async function eventsHandled(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const counts = await fixture.service.queues.events.getJobCounts("waiting", "active", "delayed", "prioritized");
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`webhook deliveries still unhandled after 30 s: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function repliesMentioning(text: string): RecordedRequest[] {
  return fixture.github.requests.filter((r) => repliesTo(r) && JSON.stringify(r.body).includes(text));
}

describe("replies to commenters without write permission", () => {
  it("answers a comment of many refused commands once, not once per line", async () => {
    const lines = ["/dstack run hello", "/dstack stop r1", "/dstack run hello --gpu 8", "/dstack tag r1 v1", "/dstack run nope"];
    expect((await fixture.comment(lines.join("\n"), "mallory")).status).toBe(202);
    await eventsHandled();
    expect(repliesMentioning("@mallory")).toHaveLength(1);
  }, 40_000);

  it("answers one outsider at most 10 comments an hour on a repository", async () => {
    const before = fixture.github.requests.filter(repliesTo).length;
    for (let i = 0; i < 13; i++) {
      const sent = await fixture.comment(i % 2 === 0 ? "/dstack help" : `/dstack run hello --n ${i}`, "oscar");
      expect(sent.status).toBe(202);
    }
    await eventsHandled();
    expect(fixture.github.requests.filter(repliesTo).length - before).toBe(10);
  }, 40_000);

  it("sends no reply to an outsider from the share kept for conclusions, while a writer's run still starts and concludes", async () => {
    // Spend the minute's budget up to the reserved share, as a burst of other replies would.
    const gate = new GitHubRateGate({ redis, prefix: fixture.redis.prefix }, RATE);
    let spent = 0;
    while ((await gate.take(fixture.github.installationId, { write: true, priority: "low" })) === 0) spent++;
    expect(spent).toBeLessThanOrEqual(RATE.limit * (1 - RATE.reservedShare));
    expect((await fixture.comment("/dstack run hello", "eve")).status).toBe(202);
    await fixture.github.waitFor((g) => g.requests.some(asksPermissionOf("eve")), { timeoutMs: 20_000 });
    expect((await fixture.comment("/dstack run hello")).status).toBe(202);
    const done = await fixture.github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.status === "completed"), { timeoutMs: 40_000 });
    expect(done.conclusion).toBe("success");
    await eventsHandled();
    expect(repliesMentioning("@eve")).toHaveLength(0);
  }, 60_000);
});
