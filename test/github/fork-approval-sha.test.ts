import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { nextSecond, settle, startForkPrFixture, type ForkPrFixture } from "../helpers/fork-pr-fixture.js";
import { makeCheckRunRerequestedPayload } from "../helpers/webhooks.js";

// An approval of a fork's pull request binds to one commit (README "Secrets", src/github/fork-head.ts):
// a push in the same second as the writer's comment is never run for it, "Re-run" runs the check
// run's own commit, and when the fork force-pushes away and back, what is bound to that commit stays
// valid while an approval of another head never carries over to it.

let fork: ForkPrFixture;

beforeAll(async () => {
  fork = await startForkPrFixture("fork-approval-sha");
});

afterAll(async () => {
  await fork?.stop();
});

/** A fork's pull request whose opening the service has seen. */
async function openForkPr(branch: string): Promise<{ number: number; head: string }> {
  const pr = fork.addForkPr(branch);
  await fork.prEvent(pr.number, "opened", pr.head);
  return pr;
}

/** Waits until the wall clock is early in a second, so what follows happens within that second. */
async function startOfSecond(): Promise<void> {
  while (Date.now() % 1000 > 150) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** "Re-run" clicked by alice on a check run. */
async function rerun(check: { id: number; head_sha: string; external_id: string | null }): Promise<void> {
  const payload = makeCheckRunRerequestedPayload({
    owner: fork.owner,
    repo: fork.repo,
    installationId: fork.github.installationId,
    checkRunId: check.id,
    headSha: check.head_sha,
    name: "dstack: env",
    externalId: check.external_id ?? "",
    sender: "alice",
  });
  await fork.deliver(payload, "check_run");
}

describe("an approval of a fork's pull request binds to the commit the writer saw", () => {
  it("refuses a comment when the fork pushed in the same second, whether the push's event came first or never came", async () => {
    const { number: pr } = await openForkPr("same-second");
    await nextSecond();
    await startOfSecond();
    const first = fork.write(pr, "/dstack run env");
    const pushedB = fork.forkPush(pr, "same-second"); // the same whole second as the comment
    await fork.prEvent(pr, "synchronize", pushedB);
    await fork.deliver(first.payload);
    await fork.changedReply(pr, pushedB);

    await nextSecond();
    await startOfSecond();
    const second = fork.write(pr, "/dstack run env");
    const pushedC = fork.forkPush(pr, "same-second"); // its event is lost
    await fork.deliver(second.payload);
    await fork.changedReply(pr, pushedC);
    await settle();
    expect({ eyes: [fork.eyesOn(first.commentId), fork.eyesOn(second.commentId)], runsAtB: await fork.runsAt(pushedB), runsAtC: await fork.runsAt(pushedC) }).toEqual({
      eyes: [false, false],
      runsAtB: 0,
      runsAtC: 0,
    });

    // The writer, now seeing C, asks again: C runs, as a fork's run (no secrets).
    await nextSecond();
    const again = fork.write(pr, "/dstack run env");
    await fork.deliver(again.payload);
    const [check] = await fork.envChecks(pushedC, 1);
    const run = await fork.service.store.get(check?.external_id ?? "");
    expect({ commit: run.commit, fork: run.trigger.fork, conclusion: check?.conclusion, secrets: check?.output.text?.includes("secret vars=0") }).toEqual({
      commit: pushedC,
      fork: true,
      conclusion: "success",
      secrets: true,
    });
  }, 40_000);

  it("'Re-run' runs the check run's own commit, not a head the fork pushed in the same second", async () => {
    const { number: pr, head } = await openForkPr("rerun-race");
    await nextSecond();
    await fork.deliver(fork.write(pr, "/dstack run env").payload);
    const [check] = await fork.envChecks(head, 1);
    if (check === undefined) throw new Error("no check run");
    await startOfSecond();
    const pushed = fork.forkPush(pr, "rerun-race");
    await rerun(check);
    await fork.prEvent(pr, "synchronize", pushed);
    const checks = await fork.envChecks(head, 2);
    const again = await fork.service.store.get(checks[1]?.external_id ?? "");
    await settle();
    expect({ commit: again.commit, kind: again.trigger.kind, fork: again.trigger.fork, secrets: checks[1]?.output.text?.includes("secret vars=0"), runsAtPushed: await fork.runsAt(pushed) }).toEqual({
      commit: head,
      kind: "rerun",
      fork: true,
      secrets: true,
      runsAtPushed: 0,
    });
  }, 40_000);

  it("after a force push away and back to X: runs at X re-run, a comment written on the other head is refused, and so is a late one written on X", async () => {
    const { number: pr, head: x } = await openForkPr("away-and-back");
    await nextSecond();
    await fork.deliver(fork.write(pr, "/dstack run env").payload);
    const [check] = await fork.envChecks(x, 1);
    if (check === undefined) throw new Error("no check run");

    // Written while X is head, processed only after the fork went to Y and back to X.
    await nextSecond();
    const onX = fork.write(pr, "/dstack run env");
    await nextSecond();
    const y = fork.forkPush(pr, "away-and-back"); // Y's event is still on its way
    await nextSecond();
    const onY = fork.write(pr, "/dstack run env"); // the writer saw Y
    await nextSecond();
    fork.github.pushToPullRequest(fork.owner, fork.repo, pr, x); // force push back to X
    await fork.prEvent(pr, "synchronize", x);
    await fork.deliver(onY.payload);
    await fork.changedReply(pr, x);
    await fork.deliver(onX.payload);
    await fork.github.waitFor((g) => g.commentsOn(fork.owner, fork.repo, pr).filter((c) => c.body.includes("the pull request changed after this command")).length >= 2, { timeoutMs: 10_000 });
    await settle();
    expect({ eyes: [fork.eyesOn(onX.commentId), fork.eyesOn(onY.commentId)], runsAtX: await fork.runsAt(x), runsAtY: await fork.runsAt(y) }).toEqual({ eyes: [false, false], runsAtX: 1, runsAtY: 0 });

    // The run at X is bound to X: "Re-run" on its check run runs X again.
    await rerun(check);
    const checks = await fork.envChecks(x, 2);
    const again = await fork.service.store.get(checks[1]?.external_id ?? "");
    expect({ commit: again.commit, fork: again.trigger.fork, conclusion: checks[1]?.conclusion }).toEqual({ commit: x, fork: true, conclusion: "success" });
  }, 50_000);
});
