import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Run } from "../../src/runs/types.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { bashWorkflow } from "../helpers/seed-run.js";
import { runCli } from "../cli/cli-process.js";

/**
 * The per-repository daily budget (DSTACK_EC2_BUDGET_PER_DAY): once a repository's machines cost
 * the budget today, a new run waits in `submitted` with a check run that says so, until a writer
 * approves it (`/dstack approve <run>`, the API, `dstack approve`). The whole service, the GitHub
 * double and real Redis; the spend comes from a run whose machine was priced like an EC2 offer.
 */

const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands: ["echo hello after approval"]
`;

let fx: PrFixture;
let repoName: string;

beforeAll(async () => {
  fx = await startPrFixture({ name: "budget-gate", files: { ".dstack/workflows.yaml": WORKFLOWS }, writers: ["alice"], service: { env: { DSTACK_EC2_BUDGET_PER_DAY: "$5" } } });
  fx.github.setPermission(fx.owner, fx.repo, "bob", "read");
  repoName = `${fx.owner}/${fx.repo}`;
  // Spent today: 10 s of a $3600/h machine, $10.00, over the $5 budget.
  const now = Date.now();
  const { run } = await fx.service.store.create({
    repo: repoName,
    workflow: bashWorkflow("earlier"),
    commit: fx.headSha,
    trigger: { kind: "api", actor: "api" },
    groupId: "g-earlier",
    needs: [],
    inputs: [],
    code: { kind: "github" },
    variables: {},
  });
  const machine = { backend: "ec2", id: "i-0earlier", description: "earlier", details: { pricePerHour: 3600, gpuCount: 1, launchedAt: now - 10_000 } };
  await fx.service.store.update(run.id, { machine, startedAt: now - 9_000, concluded: true });
  await fx.service.store.transition(run.id, "done", { patch: { finishedAt: now } });
}, 60_000);

afterAll(async () => {
  await fx?.stop();
});

const WAITING = "waiting for approval: this repository spent $10.00 of its $5.00 daily budget";

/** The run of the latest `/dstack run hello`, once its check run says it waits for approval. */
async function waitingRun(): Promise<Run> {
  const before = new Set(fx.github.checkRuns.map((c) => c.id));
  await fx.comment("/dstack run hello");
  const check = await fx.github.waitFor((g) => g.checkRuns.find((c) => !before.has(c.id) && (c.output.summary ?? "").includes(WAITING)), { timeoutMs: 15_000 });
  return fx.service.store.get(check.external_id);
}

async function waitForStatus(id: string, status: Run["status"], timeoutMs = 20_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await fx.service.store.get(id);
    if (run.status === status) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} is ${run.status} (${run.reason ?? ""}), not ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the daily budget gate", () => {
  it("holds a new run in `submitted` with a check run that says what was spent and how to approve; a reader cannot approve it, a writer can", async () => {
    const run = await waitingRun();
    const message = `${WAITING} (DSTACK_EC2_BUDGET_PER_DAY, UTC day); a writer can comment \`/dstack approve ${run.id}\` (or run \`dstack approve ${run.id}\`)`;
    expect({ status: run.status, approval: run.approval }).toEqual({ status: "submitted", approval: { state: "waiting", message } });
    const check = fx.github.checkRuns.find((c) => c.external_id === run.id);
    expect(check?.output.summary).toContain(`**waiting**: ${message}`);
    expect(check?.output.title).toBe("hello waiting");
    expect(check?.status).toBe("queued");

    // The reaper looks at it again (every second here): it stays, and its check run is not updated again.
    const updates = fx.github.checkRunUpdates(check?.id ?? 0).length;
    await new Promise((r) => setTimeout(r, 2500));
    expect((await fx.service.store.get(run.id)).status).toBe("submitted");
    expect(fx.github.checkRunUpdates(check?.id ?? 0).length).toBe(updates);

    const refused = await fx.comment(`/dstack approve ${run.id}`, "bob");
    const reply = await fx.github.waitFor((g) => g.commentsOn(fx.owner, fx.repo, fx.pr).find((c) => c.user.login !== "bob" && c.body.includes(`/dstack approve ${run.id}`)));
    expect(reply.body).toContain(`@bob needs write, maintain or admin permission on ${repoName} to approve runs (they have \`read\`)`);
    expect(fx.github.reactions.filter((r) => r.commentId === refused.commentId)).toEqual([]);
    expect((await fx.service.store.get(run.id)).status).toBe("submitted");

    const approved = await fx.comment(`/dstack approve ${run.id}`, "alice");
    await fx.github.waitFor((g) => g.reactions.find((r) => r.commentId === approved.commentId && r.content === "eyes"));
    const done = await waitForStatus(run.id, "done");
    expect(done.approval).toEqual({ state: "approved", by: "alice", byId: fx.github.userId("alice"), at: expect.any(Number) });
    const concluded = await fx.github.waitFor((g) => g.checkRuns.find((c) => c.external_id === run.id && c.status === "completed"));
    expect(concluded.conclusion).toBe("success");
    expect(concluded.output.summary).toContain("| Approved | by @alice, over the daily budget |");
    expect(concluded.output.summary).not.toContain("waiting for approval");
  }, 60_000);

  it("approves through the API (and refuses a run of another repository or one not waiting)", async () => {
    const run = await waitingRun();
    const auth = { authorization: `Bearer ${fx.service.keys.apiToken}` };
    const other = await fetch(`${fx.service.url}/api/v1/repos/acme/elsewhere/runs/${run.id}/approve`, { method: "POST", headers: auth });
    expect(other.status).toBe(404);
    const res = await fetch(`${fx.service.url}/api/v1/repos/${repoName}/runs/${run.id}/approve`, { method: "POST", headers: auth });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { run: { id: string; approval: { state: string; by: string } } };
    expect(body.run).toMatchObject({ id: run.id, approval: { state: "approved", by: "api" } });
    await waitForStatus(run.id, "done");
    const again = await fetch(`${fx.service.url}/api/v1/repos/${repoName}/runs/${run.id}/approve`, { method: "POST", headers: auth });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toContain(`run \`${run.id}\` is not waiting for approval (it is done, approved already)`);
  }, 60_000);

  it("approves with `dstack approve <run>`", async () => {
    const run = await waitingRun();
    const configHome = await mkdtemp(path.join(os.tmpdir(), "dstack-budget-cli-"));
    // The built CLI as a child process, as a user runs it.
    const result = await runCli(["approve", run.id, "--repo", repoName], configHome, {
      env: { DSTACK_URL: fx.service.url, DSTACK_TOKEN: fx.service.keys.apiToken, XDG_CONFIG_HOME: configHome, NO_COLOR: "1" },
    });
    await rm(configHome, { recursive: true, force: true });
    expect(result).toEqual({ code: 0, stdout: `run ${run.id} approved; it starts now\n`, stderr: "" });
    await waitForStatus(run.id, "done");
  }, 60_000);

  it("lists `/dstack approve` in the help reply", async () => {
    await fx.comment("/dstack help");
    const help = await fx.github.waitFor((g) => g.commentsOn(fx.owner, fx.repo, fx.pr).find((c) => c.body.includes("dstack commands")));
    expect(help.body).toContain("`/dstack approve <run>` starts a run that waits because the repository spent its daily budget");
    fx.github.assertNoViolations();
  });
});
