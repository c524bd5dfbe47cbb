import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { GitHubWaitAbortedError, InvalidInputError, isRefusal } from "../../src/errors.js";
import { githubRetryDelayMs } from "../../src/github/retry-delay.js";
import type { Run } from "../../src/runs/types.js";
import type { RecordedRequest } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * Shutdown while a GitHub request waits for the installation's rate gate: GitHub answered a log-tail
 * update with 429 and `retry-after: 60`, so the run's conclusion waits out a minute in the gate when
 * the service is closed. The close does not sit out the window (the wait is aborted), the run stays
 * unconcluded, and a second service process publishes its conclusion once the window has ended.
 */

const WORKFLOWS = `workflows:
  - name: slow
    provider: bash
    commands: ['echo start', 'sleep 2', 'echo end']
`;
/** GitHub's window in this test: a minute, as `retry-after` says. */
const RETRY_AFTER_S = 60;

let fixture: PrFixture;
let serviceB: TestService | undefined;

const isCheckRunPatch = (r: RecordedRequest, status: string) =>
  r.method === "PATCH" && /\/check-runs\/\d+$/.test(r.path) && (r.body as { status?: string } | undefined)?.status === status;

beforeAll(async () => {
  fixture = await startPrFixture({ name: "gateshutdown", files: { ".dstack/workflows.yaml": WORKFLOWS } });
}, 60_000);

afterAll(async () => {
  await serviceB?.stop();
  await fixture?.stop();
});

/** Polls the run in Redis (every 100 ms) until `check` holds; the double's `waitFor` only sees GitHub's side. */
async function runWhere(service: TestService, runId: string, check: (run: Run) => boolean, what: string, timeoutMs = 20_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await service.store.get(runId);
    if (check(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId}: not ${what} within ${timeoutMs} ms (it is ${run.status}, concluded ${String(run.concluded)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Milliseconds since the epoch on Redis's clock, which the gate's windows are kept on. */
async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe("closing a service while its GitHub requests wait for the rate gate", () => {
  it("closes at once, leaves the run unconcluded, and another process publishes the conclusion after the window", async () => {
    const { github, redis } = fixture;
    const serviceA = fixture.service;
    github.failNext((r) => isCheckRunPatch(r, "in_progress"), {
      status: 429,
      headers: { "retry-after": String(RETRY_AFTER_S) },
      body: { message: "You have exceeded a secondary rate limit.", documentation_url: "https://docs.github.com/rest" },
    });
    expect((await fixture.comment("/dstack run slow")).status).toBe(202);
    const created = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: slow"), { timeoutMs: 20_000 });
    await github.waitFor((g) => g.requests.some((r) => isCheckRunPatch(r, "in_progress") && r.status === 429), { timeoutMs: 20_000 });
    const runId = created.external_id;
    await runWhere(serviceA, runId, (run) => run.status === "done", "done");
    // The supervisor sees the end within a poll (200 ms), releases the machine, keeps the log, and
    // marks the run its workflow's latest success just before publishing the conclusion, which then
    // waits in the gate for what is left of the minute. Waiting for that mark leaves the pause below
    // only the last few steps to cover (it once had to cover all of them on a loaded machine).
    const repo = `${fixture.owner}/${fixture.repo}`;
    for (const deadline = Date.now() + 20_000; (await serviceA.store.resolveTag(repo, "slow", "latest"))?.id !== runId; ) {
      if (Date.now() > deadline) throw new Error(`run ${runId} was never marked the latest success of slow`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The conclusion is waiting in the gate once serviceA says a check-run update waits there after the
    // run finished (a fixed pause once guessed it).
    const finishedAt = (await serviceA.store.get(runId)).finishedAt ?? 0;
    const conclusionWaits = () =>
      serviceA.logLines.some((l) => {
        if (!l.includes("waiting for the GitHub rate gate")) return false;
        const line = JSON.parse(l) as { msg?: string; route?: string; time: number };
        return line.msg === "waiting for the GitHub rate gate" && line.route === "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}" && line.time >= finishedAt;
      });
    for (const deadline = Date.now() + 20_000; !conclusionWaits(); ) {
      if (Date.now() > deadline) throw new Error("the conclusion of the run never waited in the rate gate");
      await new Promise((r) => setTimeout(r, 50));
    }

    const closeStart = Date.now();
    await serviceA.close();
    const closeMs = Date.now() - closeStart;
    // Far less than the 60 s window it would otherwise wait out; loose enough for a loaded CI machine
    // (closing also stops the workers and the queue connections).
    expect(closeMs).toBeLessThan(15_000);
    // The conclusion was interrupted in the gate (a transient failure: the supervisor left the run).
    const interrupted = serviceA.logLines.filter((l) => l.includes("publishing the conclusion failed") && l.includes("the service shut down while it waited"));
    expect(interrupted).toHaveLength(1);
    expect(github.checkRun(created.id)?.status).not.toBe("completed");

    const probe = new Redis(redis.url);
    try {
      // The window of the 429 is still open: the closing process did not wait it out.
      const backoffKey = `${redis.prefix}:github:installation:${github.installationId}:backoff`;
      expect(await probe.pttl(backoffKey)).toBeGreaterThan((RETRY_AFTER_S - 20) * 1000);
      // The minute passes: what is left of the window is cut to 2 s instead of being waited out.
      const windowEndsAt = Date.now() + 2000;
      await probe.set(backoffKey, String((await redisNowMs(probe)) + 2000), "PX", 2000);

      serviceB = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
      const done = await github.waitFor((g) => g.checkRun(created.id)?.status === "completed" && g.checkRun(created.id), { timeoutMs: 30_000 });
      expect(done.conclusion).toBe("success");
      const completions = github.requests.filter((r) => isCheckRunPatch(r, "completed") && r.path.endsWith(`/check-runs/${created.id}`));
      expect(completions.map((r) => r.status)).toEqual([200]);
      expect(completions[0]?.at.getTime() ?? 0).toBeGreaterThanOrEqual(windowEndsAt - 250);
      // Concluded by the second process (a run concluded already is not supervised again), once.
      await runWhere(serviceB, runId, (run) => run.concluded === true, "concluded");
      expect(serviceB.logLines.filter((l) => l.includes("run concluded") && l.includes(runId))).toHaveLength(1);
      expect(serviceA.logLines.filter((l) => l.includes("run concluded"))).toEqual([]);
    } finally {
      probe.disconnect();
    }
    console.log(`[figure] service.close() while its run's conclusion waited for a ${RETRY_AFTER_S} s back-off window: ${closeMs} ms`);
  }, 60_000);

  it("counts an interrupted wait as transient: retried after what was left of the window, never answered as a refusal", () => {
    const interrupted = new GitHubWaitAbortedError(7, "POST /repos/{owner}/{repo}/check-runs", 42_000);
    expect(githubRetryDelayMs(interrupted, 1)).toBe(42_000);
    // Handlers reply "Nothing ran" to refusals only; this one goes back to BullMQ, which tries the event again.
    expect(isRefusal(interrupted)).toBe(false);
    expect(isRefusal(new InvalidInputError("no workflow `trian`"))).toBe(true);
    expect(interrupted.message).toContain("POST /repos/{owner}/{repo}/check-runs to installation 7 was not sent");
  });
});
