import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { RunStore } from "../../src/runs/run-store.js";
import type { Run } from "../../src/runs/types.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { agentLaunches, startServiceProcess, submitRun, supervisedAt, type ServiceProcess } from "../helpers/service-process.js";

/**
 * DESIGN.md §6: a worker process killed with `kill -9` in any phase of a run leaves the run to the
 * other worker, which adopts it within lockDuration + stalledInterval: no second agent, no second
 * conclusion, no check run left open. One web process (webhooks, API, the agents' API) and two
 * worker processes share one Redis. Worker A alone takes six runs and each is brought to its phase
 * deterministically (test points hold A where no timing could: see src/runs/test-point.ts); then
 * worker B starts and A is killed once, with every run in its phase at that moment.
 */
const OWNER = "acme";
const REPO = "faults";
const LOCK_MS = 3000;
const STALLED_MS = 1500;
/** Time B needs to take a job from the queue once it is back there, on a loaded 2-core machine. */
const PICKUP_SLACK_MS = 2500;
/**
 * `running` and `streaming` go on until the test creates this file, after worker B adopted them: no
 * fixed duration outlasts the set-up on every machine (a 14 s one ran out once under load).
 */
const RELEASE = path.join(os.tmpdir(), `dstack-crash-phases-release-${process.pid}`);
const WORKFLOWS = `workflows:
  - name: queued
    provider: bash
    commands: [echo queued-ok]
  - name: provisioning
    provider: bash
    commands: [echo provisioning-start, sleep 1, echo provisioning-end]
  - name: running
    provider: bash
    commands:
      - echo running-start
      - while [ ! -e ${RELEASE} ]; do sleep 0.1; done
      - echo running-end
  - name: streaming
    provider: bash
    commands:
      - i=0; while [ ! -e ${RELEASE} ] || [ $i -lt 70 ]; do i=$((i+1)); echo "line $i"; sleep 0.2; done; echo streaming-end
  - name: uploading
    provider: bash
    commands: [mkdir -p out, echo result > out/result.txt]
    artifacts: [out]
  - name: concluding
    provider: bash
    commands: [echo concluding-ok]
`;
const FILES = { ".dstack/workflows.yaml": WORKFLOWS };
const PHASES = ["queued", "provisioning", "running", "streaming", "uploading", "concluding"] as const;
type Phase = (typeof PHASES)[number];

let redis: TestRedis;
let client: Redis;
let store: RunStore;
let github: GitHubDouble;
let dataDir: string;
let sha: string;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  redis = await startRedis("crash-phases");
  client = new Redis(redis.url);
  store = new RunStore({ redis: client, prefix: redis.prefix });
  github = await startGitHubDouble();
  sha = github.addRepo({ owner: OWNER, name: REPO, files: FILES }).sha;
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-crash-phases-"));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  client.disconnect();
  await github.close();
  await redis.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(RELEASE, { force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a worker killed with kill -9 in each phase: the other adopts every run, no duplicate launch or conclusion, no open check run", async () => {
  const common = { redisUrl: redis.url, prefix: redis.prefix, dataDir, github };
  const seams = { SERVICE_LOCK_MS: String(LOCK_MS), SERVICE_STALLED_MS: String(STALLED_MS), SERVICE_HEARTBEAT_SECONDS: "1", DSTACK_MAX_RUNS: "8" };
  // The web process holds the artifact upload of `uploading`, and the first request of the agent
  // of `provisioning`, until the test sends it SIGUSR2: those runs stay in their phase (`uploading`;
  // `provisioning` with an agent started but not recorded) until worker B has adopted them. (A 15 s
  // hold once ran out on a loaded machine before the phases were read.)
  const web = await startServiceProcess({
    ...common,
    name: "web",
    role: "web",
    env: { ...seams, SERVICE_HOLD: "upload:uploading:usr2,job:provisioning:usr2" },
  });
  processes.push(web);
  const workerA = await startServiceProcess({
    ...common,
    name: "worker A",
    role: "worker",
    port: web.port,
    env: { ...seams, SERVICE_HOLD: "queued:queued,launched:provisioning,concluding:concluding" },
  });
  processes.push(workerA);

  const ids = new Map<Phase, string>();
  for (const phase of PHASES) ids.set(phase, await submitRun(web.url, { repo: `${OWNER}/${REPO}`, commit: sha, files: FILES, workflow: phase }));
  const id = (phase: Phase) => ids.get(phase) as string;
  const run = (phase: Phase) => store.get(id(phase));

  // Every run in its phase, with worker A as its only supervisor.
  await workerA.waitFor(() => workerA.held.some((h) => h.point === "queued" && h.runId === id("queued")), 30_000, "queued run held");
  await workerA.waitFor(() => workerA.held.some((h) => h.point === "launched" && h.runId === id("provisioning")), 30_000, "provisioning run held after its agent started");
  await workerA.waitFor(() => workerA.held.some((h) => h.point === "concluding" && h.runId === id("concluding")), 30_000, "concluding run held");
  await web.waitFor(() => web.held.some((h) => h.point === "upload" && h.runId === id("uploading")), 30_000, "upload held");
  await until("running run running", async () => (await run("running")).status === "running");
  await until("streaming run streaming", async () => (await run("streaming")).logBytes > 40);

  const workerB = await startServiceProcess({ ...common, name: "worker B", role: "worker", port: web.port, env: seams });
  processes.push(workerB);
  const before = new Map<Phase, Run>();
  for (const phase of PHASES) before.set(phase, await run(phase));
  const streamedBeforeKill = (before.get("streaming") as Run).logBytes;
  const killedAt = Date.now();
  await workerA.kill("SIGKILL");
  expect(await workerA.exited).toBe("SIGKILL");

  // The phases as they were at the kill.
  expect((before.get("queued") as Run).status).toBe("submitted");
  expect((before.get("provisioning") as Run).status).toBe("provisioning");
  expect((before.get("provisioning") as Run).machine).toBeUndefined();
  expect((before.get("running") as Run).status).toBe("running");
  expect((before.get("streaming") as Run).status).toBe("running");
  expect((before.get("uploading") as Run).status).toBe("uploading");
  expect((before.get("concluding") as Run).status).toBe("done");
  expect((before.get("concluding") as Run).concluded).toBe(false);

  const adoptedMs = new Map<Phase, number>();
  for (const phase of PHASES) {
    const at = await workerB.waitFor(() => supervisedAt(workerB, id(phase)), 30_000, `adoption of ${phase}`);
    adoptedMs.set(phase, at - killedAt);
  }
  process.kill(web.pid, "SIGUSR2");
  await writeFile(RELEASE, "");
  for (const phase of PHASES) {
    await until(`${phase} concluded`, async () => (await run(phase)).concluded, 45_000);
  }

  const launches = agentLaunches(dataDir);
  const outcomes = await Promise.all(
    PHASES.map(async (phase) => {
      const r = await run(phase);
      const checkRun = github.checkRuns.find((c) => c.external_id === r.id);
      const completions = checkRun === undefined ? 0 : github.checkRunUpdates(checkRun.id).filter((u) => u.method === "PATCH" && u.body.status === "completed").length;
      return { phase, status: r.status, reason: r.reason, launches: launches.get(r.id) ?? 0, completions, conclusion: checkRun?.conclusion, adoptedMs: adoptedMs.get(phase) as number };
    }),
  );
  const open = github.checkRuns.filter((c) => c.status !== "completed").length;
  const duplicateLaunches = outcomes.filter((o) => o.launches > 1).length;
  const duplicateConclusions = outcomes.filter((o) => o.completions > 1).length;
  console.log(
    [
      ...outcomes.map(
        (o) =>
          `faults: adopted after kill -9 in ${o.phase}: ${(o.adoptedMs / 1000).toFixed(1)} s (bound ${(LOCK_MS + STALLED_MS) / 1000} s + ${PICKUP_SLACK_MS / 1000} s pickup); agent launches ${o.launches}, check-run conclusions ${o.completions}, status ${o.status}`,
      ),
      `faults: after kill -9 of a worker: duplicate launches ${duplicateLaunches}, duplicate conclusions ${duplicateConclusions}, check runs left open ${open}`,
    ].join("\n"),
  );
  for (const o of outcomes) {
    expect({ phase: o.phase, status: o.status, reason: o.reason, launches: o.launches, completions: o.completions, conclusion: o.conclusion }).toEqual({
      phase: o.phase,
      status: "done",
      reason: undefined,
      launches: 1,
      completions: 1,
      conclusion: "success",
    });
    expect(o.adoptedMs).toBeLessThanOrEqual(LOCK_MS + STALLED_MS + PICKUP_SLACK_MS);
  }
  expect(open).toBe(0);
  expect(duplicateLaunches).toBe(0);
  expect(duplicateConclusions).toBe(0);

  // The adopter kept publishing: log lines written after the kill reached the check run.
  const streaming = await run("streaming");
  expect(streaming.logBytes).toBeGreaterThan(streamedBeforeKill);
  const streamingCheck = github.checkRuns.find((c) => c.external_id === streaming.id);
  expect(streamingCheck?.output.text ?? "").toContain("streaming-end");
  // The run held after its agent started kept that agent: B found and recorded it.
  expect(workerB.logs.some((l) => l.msg === "adopted the machine started before a crash" && l.runId === id("provisioning"))).toBe(true);
  github.assertNoViolations();
}, 90_000);
