import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { isRunning } from "../helpers/process-state.js";

/**
 * DESIGN.md §6: a runner agent that dies (`kill -9`) or stops heartbeating without dying (`SIGSTOP`,
 * a hung machine) ends its run `failed` ("runner lost") within the heartbeat lease + 30 s, and its
 * process and the workflow's processes are gone afterwards.
 */
const LEASE_MS = 4000;
const BOUND_MS = LEASE_MS + 30_000;
const WORKFLOWS = `workflows:
  - name: sleeper
    provider: bash
    commands:
      - echo "sleeping"
      - sleep 120
`;

let f: PrFixture;

beforeAll(async () => {
  f = await startPrFixture({
    name: "agent-lost",
    files: { ".dstack/workflows.yaml": WORKFLOWS },
    service: { overrides: { heartbeatSeconds: 1, supervise: { heartbeatLeaseMs: LEASE_MS, publishIntervalMs: 1000, pollMs: 200 } } },
  });
});

afterAll(async () => {
  await f?.stop();
});

/** Starts `sleeper`, waits until its workflow printed, does `harm` to the agent; returns the seconds until the run failed. */
async function loseAgent(harm: (agentPid: number) => void): Promise<{ seconds: number; agentPid: number; stepPid: number; reason: string; conclusion: string }> {
  const before = f.github.checkRuns.length;
  expect((await f.comment("/dstack run sleeper")).status).toBeLessThan(300);
  const checkRun = await f.github.waitFor(
    (g) => g.checkRuns.slice(before).find((c) => c.status === "in_progress" && (c.output.text ?? "").includes("sleeping")),
    { timeoutMs: 30_000 },
  );
  const run = await f.service.store.get(checkRun.external_id);
  const agentPid = Number(run.machine?.id);
  const stepPid = Number(readFileSync(path.join(String(run.machine?.details.workDir), "step.pid"), "utf8"));
  expect(isRunning(agentPid)).toBe(true);
  expect(isRunning(stepPid)).toBe(true);
  const harmedAt = Date.now();
  harm(agentPid);
  const done = await f.github.waitFor((g) => g.checkRun(checkRun.id)?.status === "completed" && g.checkRun(checkRun.id), { timeoutMs: BOUND_MS + 10_000 });
  const ended = await f.service.store.get(run.id);
  return {
    seconds: ((ended.finishedAt ?? Date.now()) - harmedAt) / 1000,
    agentPid,
    stepPid,
    reason: ended.status === "failed" ? (ended.reason ?? "") : `ended ${ended.status}`,
    conclusion: done.conclusion ?? "",
  };
}

it("an agent killed with kill -9: the run fails `runner lost` within the lease + 30 s and the workflow's processes are gone", async () => {
  const lost = await loseAgent((pid) => process.kill(pid, "SIGKILL"));
  console.log(`faults: agent killed with kill -9 -> run failed "runner lost" after ${lost.seconds.toFixed(1)} s (bound ${BOUND_MS / 1000} s)`);
  expect(lost.reason).toMatch(/^runner lost/);
  expect(lost.conclusion).toBe("failure");
  expect(lost.seconds * 1000).toBeLessThanOrEqual(BOUND_MS);
  expect(isRunning(lost.agentPid)).toBe(false);
  expect(isRunning(lost.stepPid)).toBe(false);
}, 60_000);

it("an agent that stops heartbeating without dying (SIGSTOP): the run fails `runner lost` within the lease + 30 s and the agent is killed", async () => {
  const lost = await loseAgent((pid) => process.kill(pid, "SIGSTOP"));
  try {
    console.log(`faults: agent stopped with SIGSTOP -> run failed "runner lost" after ${lost.seconds.toFixed(1)} s (bound ${BOUND_MS / 1000} s)`);
    expect(lost.reason).toMatch(/^runner lost: no heartbeat for \d+ s/);
    expect(lost.conclusion).toBe("failure");
    expect(lost.seconds * 1000).toBeLessThanOrEqual(BOUND_MS);
    // Released: the stopped agent was killed, and its workflow with it.
    expect(isRunning(lost.agentPid)).toBe(false);
    expect(isRunning(lost.stepPid)).toBe(false);
  } finally {
    if (isRunning(lost.agentPid)) process.kill(lost.agentPid, "SIGKILL");
  }
}, 60_000);
