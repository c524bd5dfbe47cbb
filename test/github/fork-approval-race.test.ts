import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { nextSecond, settle, startForkPrFixture, type ForkPrFixture } from "../helpers/fork-pr-fixture.js";
import { signAndSend } from "../helpers/webhooks.js";
import { WEBHOOK_SECRET } from "../helpers/service.js";

// A writer's `/dstack run` on a fork's PR approves the head the writer saw (DESIGN §5, issue #9),
// however late the comment is processed.

let fork: ForkPrFixture;
let forkPr: number;
let headA: string;

beforeAll(async () => {
  fork = await startForkPrFixture("fork-race");
  ({ number: forkPr, head: headA } = fork.addForkPr("from-fork"));
});

afterAll(async () => {
  await fork?.stop();
});

/** Waits for the `count`-th finished `dstack: env` check run at `sha` and returns what its run saw. */
async function completedRun(sha: string, count = 1): Promise<{ text: string; fork: boolean | undefined }> {
  const done = await fork.envChecks(sha, count);
  const check = done[count - 1] ?? done[0];
  if (check === undefined) throw new Error("no check run");
  const run = await fork.service.store.get(check.external_id ?? "");
  expect({ commit: run.commit, conclusion: check.conclusion }).toEqual({ commit: sha, conclusion: "success" });
  return { text: check.output.text ?? "", fork: run.trigger.fork };
}

describe("a writer's /dstack run on a fork's pull request approves the head the writer saw", () => {
  let headB: string;

  it("runs the head the comment was written on, without secrets", async () => {
    await fork.prEvent(forkPr, "opened", headA);
    await nextSecond();
    const { commentId, payload } = fork.write(forkPr, "/dstack run env");
    await fork.deliver(payload);
    const run = await completedRun(headA);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=0"), eyes: fork.eyesOn(commentId) }).toEqual({ fork: true, secrets: true, eyes: true });
  }, 30_000);

  it("refuses a comment written before a push it is processed after, with a reply and no 👀; asking again runs the new head", async () => {
    const { commentId, payload } = fork.write(forkPr, "/dstack run env");
    await nextSecond();
    headB = fork.forkPush(forkPr, "from-fork");
    await fork.prEvent(forkPr, "synchronize", headB); // the push's event is handled before the comment's (a queue delay)
    await fork.deliver(payload);
    const reply = await fork.changedReply(forkPr, headB);
    expect(reply.body).toContain("a writer must ask again");
    expect(reply.body).toMatch(/the pull request changed after this command \(new head `[0-9a-f]{7}` pushed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/);
    await settle();
    expect({ eyes: fork.eyesOn(commentId), runsAtB: await fork.runsAt(headB), runsAtA: await fork.runsAt(headA) }).toEqual({ eyes: false, runsAtB: 0, runsAtA: 1 });

    await nextSecond();
    const again = fork.write(forkPr, "/dstack run env");
    await fork.deliver(again.payload);
    const run = await completedRun(headB);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=0"), eyes: fork.eyesOn(again.commentId) }).toEqual({ fork: true, secrets: true, eyes: true });
  }, 30_000);

  it("does not run a new push for the old comment delivered again days later", async () => {
    const old = fork.write(forkPr, "/dstack run env");
    await fork.deliver(old.payload);
    await fork.github.waitFor(() => fork.eyesOn(old.commentId), { timeoutMs: 10_000 });
    await completedRun(headB, 2);
    const before = await fork.runsAt(headB);
    await nextSecond();
    const headC = fork.forkPush(forkPr, "from-fork");
    await fork.prEvent(forkPr, "synchronize", headC);
    // Days later the comment's dedupe keys have expired (3 days) and GitHub delivers it again.
    const stale = await fork.service.store.redis.keys(`${fork.redis.prefix}:cmd:${fork.full}:${old.commentId}:*`);
    expect(stale.length).toBeGreaterThan(0);
    await fork.service.store.redis.del(...stale);
    await fork.deliver(old.payload);
    await fork.changedReply(forkPr, headC);
    await settle();
    expect({ runsAtC: await fork.runsAt(headC), runsAtB: await fork.runsAt(headB) }).toEqual({ runsAtC: 0, runsAtB: before });
  }, 40_000);

  it("with no record of the pull request, refuses a comment once (a push in its second is invisible) and runs the head when asked again", async () => {
    const quiet = fork.addForkPr("quiet-fork"); // no pull_request events reach the service (sent before it was installed)
    const fresh = fork.write(quiet.number, "/dstack run env");
    await fork.deliver(fresh.payload);
    const unseen = await fork.changedReply(quiet.number, quiet.head);
    expect(unseen.body).toContain(`the pull request's head \`${quiet.head.slice(0, 7)}\` had not reached this service before this command`);
    await settle();
    expect({ eyes: fork.eyesOn(fresh.commentId), runs: await fork.runsAt(quiet.head) }).toEqual({ eyes: false, runs: 0 });
    await nextSecond();
    const asked = fork.write(quiet.number, "/dstack run env");
    await fork.deliver(asked.payload);
    expect((await completedRun(quiet.head)).fork).toBe(true);

    const { number: pr2 } = fork.addForkPr("quiet-fork-2");
    const late = fork.write(pr2, "/dstack run env");
    await nextSecond();
    const pushed = fork.forkPush(pr2, "quiet-fork-2");
    await fork.deliver(late.payload);
    await fork.changedReply(pr2, pushed);
    await settle();
    expect({ eyes: fork.eyesOn(late.commentId), runs: await fork.runsAt(pushed) }).toEqual({ eyes: false, runs: 0 });
    // Refusing recorded the head it saw: a writer's new request runs it.
    await nextSecond();
    const again = fork.write(pr2, "/dstack run env");
    await fork.deliver(again.payload);
    expect((await completedRun(pushed)).text).toContain("secret vars=0");
  }, 40_000);

  it("leaves a same-repository pull request as it was: the head at processing time runs, with secrets", async () => {
    fork.github.createBranch(fork.owner, fork.repo, "feature");
    fork.github.commit(fork.owner, fork.repo, { "feature.txt": "1\n" }, { branch: "feature" });
    const pr = fork.github.addPullRequest({ owner: fork.owner, repo: fork.repo, headRef: "feature" });
    const { payload } = fork.write(pr, "/dstack run env");
    await nextSecond();
    const pushed = fork.github.commit(fork.owner, fork.repo, { "feature.txt": "2\n" }, { branch: "feature" });
    fork.github.pushToPullRequest(fork.owner, fork.repo, pr, pushed);
    await fork.deliver(payload);
    const run = await completedRun(pushed);
    expect({ fork: run.fork, secrets: run.text.includes("secret vars=1") }).toEqual({ fork: false, secrets: true });
  }, 30_000);

  it("never runs the commands of an edited comment", async () => {
    const before = (await fork.service.store.list({ repo: fork.full, limit: 100 })).length;
    const { commentId, payload } = fork.write(forkPr, "/dstack run env");
    const edited = { ...payload, action: "edited", changes: { body: { from: "looks good" } } };
    expect((await signAndSend(fork.service.webhookUrl, { event: "issue_comment", payload: edited, secret: WEBHOOK_SECRET })).status).toBe(200);
    await settle();
    expect({ eyes: fork.eyesOn(commentId), runs: (await fork.service.store.list({ repo: fork.full, limit: 100 })).length }).toEqual({ eyes: false, runs: before });
  }, 20_000);
});
