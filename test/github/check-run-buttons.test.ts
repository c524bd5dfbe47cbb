import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { CheckRun, GitHubDouble } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeCheckRunRequestedActionPayload, makeCheckRunRerequestedPayload, signAndSend } from "../helpers/webhooks.js";

/** GitHub's "Re-run" and the check run's Stop / Re-run buttons, with the clicker's permission checked. */

const OWNER = "acme";
const REPO = "buttons";
const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands: ['echo "hello $DSTACK_RUN_ID"']
  - name: sleeper
    provider: bash
    commands: ["echo sleeping", "sleep 30"]
  - name: slow-dep
    provider: bash
    commands: ["echo dep sleeping", "sleep 30"]
  - name: after-slow
    provider: bash
    depends-on: [slow-dep]
    commands: ["echo never"]
`;

let fixture: PrFixture;
let github: GitHubDouble;
let service: TestService;
let headSha: string;

function checkFields(check: CheckRun, sender: string) {
  return {
    owner: OWNER,
    repo: REPO,
    apiUrl: github.url,
    webUrl: github.webUrl,
    checkRunId: check.id,
    headSha: check.head_sha,
    name: check.name,
    externalId: check.external_id,
    appId: github.appId,
    sender,
  };
}

async function click(check: CheckRun, identifier: string, sender = "alice") {
  const payload = makeCheckRunRequestedActionPayload({ ...checkFields(check, sender), status: "in_progress", identifier });
  const res = await signAndSend(service.webhookUrl, { event: "check_run", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
}

async function rerequest(check: CheckRun, sender = "alice") {
  const payload = makeCheckRunRerequestedPayload({ ...checkFields(check, sender), conclusion: check.conclusion });
  const res = await signAndSend(service.webhookUrl, { event: "check_run", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
}

const actionsOf = (update: { body: Record<string, unknown> }) => ((update.body.actions as Array<{ identifier: string }> | undefined) ?? []).map((a) => a.identifier);

beforeAll(async () => {
  fixture = await startPrFixture({ name: "buttons", owner: OWNER, repo: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS }, readers: ["reader"] });
  ({ github, service, headSha } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

describe("check run buttons", () => {
  it("shows Stop while the run goes; a reader's click does nothing, a writer's click stops it (cancelled) and offers Re-run", async () => {
    await fixture.comment("/dstack run sleeper");
    const running = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: sleeper" && c.status === "in_progress" && c.output.text?.includes("sleeping")), {
      timeoutMs: 20_000,
    });
    const updates = github.checkRunUpdates(running.id);
    expect(actionsOf(updates[0] as { body: Record<string, unknown> })).toEqual(["stop"]);
    expect(actionsOf(updates.at(-1) as { body: Record<string, unknown> })).toEqual(["stop"]);

    await click(running, "stop", "reader");
    await new Promise((r) => setTimeout(r, 1500));
    expect(github.checkRun(running.id)?.status).toBe("in_progress");
    expect((await service.store.get(running.external_id)).stopRequested).toBeUndefined();

    await click(running, "stop");
    const stopped = await github.waitFor((g) => g.checkRuns.find((c) => c.id === running.id && c.status === "completed"), { timeoutMs: 20_000 });
    expect(stopped.conclusion).toBe("cancelled");
    expect(stopped.output.summary).toContain("stopped by @alice");
    expect(actionsOf(github.checkRunUpdates(running.id).at(-1) as { body: Record<string, unknown> })).toEqual(["rerun"]);
    github.assertNoViolations();
  });

  it("re-runs a finished workflow at the same commit on GitHub's Re-run, as a new run and check run", async () => {
    await fixture.comment("/dstack run hello");
    const first = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.status === "completed"), { timeoutMs: 20_000 });
    await rerequest(first);
    const second = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.id > first.id && c.status === "completed"), { timeoutMs: 20_000 });
    expect(second.conclusion).toBe("success");
    expect(second.head_sha).toBe(headSha);
    expect(second.external_id).not.toBe(first.external_id);
    expect(second.output.summary).toContain("re-run by @alice");
    expect(second.output.text).toContain(`hello ${second.external_id}`);
  });

  it("re-runs on the Re-run button too, and refuses a reader's Re-run", async () => {
    const last = [...github.checkRuns].reverse().find((c) => c.name === "dstack: hello" && c.status === "completed") as CheckRun;
    await rerequest(last, "reader");
    await click(last, "rerun", "reader");
    await new Promise((r) => setTimeout(r, 1500));
    expect(github.checkRuns.filter((c) => c.name === "dstack: hello" && c.id > last.id)).toEqual([]);
    await click(last, "rerun");
    const again = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.id > last.id && c.status === "completed"), { timeoutMs: 20_000 });
    expect(again.conclusion).toBe("success");
    expect(github.checkRuns.filter((c) => c.name === "dstack: hello" && c.id > last.id)).toHaveLength(1);
  });

  it("stops a run that waits for its dependencies at once, without giving it a machine", async () => {
    await fixture.comment("/dstack run after-slow");
    const dep = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: slow-dep" && c.output.text?.includes("dep sleeping")), { timeoutMs: 20_000 });
    const waiting = github.checkRuns.find((c) => c.name === "dstack: after-slow") as CheckRun;
    expect(waiting.status).toBe("queued");
    await click(waiting, "stop");
    const stopped = await github.waitFor((g) => g.checkRuns.find((c) => c.id === waiting.id && c.status === "completed"), { timeoutMs: 10_000 });
    expect(stopped.conclusion).toBe("cancelled");
    expect(github.checkRun(dep.id)?.status).toBe("in_progress");
    expect((await service.store.get(waiting.external_id)).machine).toBeUndefined();
    await click(dep, "stop");
    await github.waitFor((g) => g.checkRuns.find((c) => c.id === dep.id && c.status === "completed"), { timeoutMs: 20_000 });
  });
});
