import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { Redis } from "ioredis";
import { STATE_LOST_REASON } from "../../src/runs/recover-lost-runs.js";
import { RunStore } from "../../src/runs/run-store.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis } from "../helpers/redis.js";
import { startServiceProcess, submitRun } from "../helpers/service-process.js";
import { isRunning } from "../helpers/process-state.js";

/**
 * Redis restarted under 20 active runs (issue 9). With the append-only file on (production), no
 * run is lost: each ends `done` and its check run `success`. Without persistence Redis comes back
 * empty: the service does not crash, the agents (refused: their run is unknown) stop, and every run
 * is concluded from what survives, the run journal in the artifact store and the check runs on
 * GitHub: check run `failure`, "state lost: ...". The service runs as its own process (a crash
 * or a crash loop would show as an exit).
 */
const OWNER = "acme";
const REPO = "redis-restart";
const RUNS = 20;
/**
 * `short` runs go on until the test creates this file, after Redis came back: a fixed `sleep 20`
 * could let the first runs end (and leave the journal) while a loaded machine still started the last ones.
 */
const RELEASE = path.join(os.tmpdir(), `dstack-redis-restart-release-${process.pid}`);
const WORKFLOWS = `workflows:
  - name: short
    provider: bash
    commands:
      - echo short-start
      - while [ ! -e ${RELEASE} ]; do sleep 0.5; done
      - echo short-end
  - name: long
    provider: bash
    commands: [echo long-start, sleep 120, echo long-end]
`;
const FILES = { ".dstack/workflows.yaml": WORKFLOWS };

let github: GitHubDouble;
let sha: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  await rm(RELEASE, { force: true }); // left by a killed earlier run with this pid, it would end the runs at once
  github = await startGitHubDouble();
  sha = github.addRepo({ owner: OWNER, name: REPO, files: FILES }).sha;
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await github.close();
  await rm(RELEASE, { force: true });
});

/** Runs in the run journal (file artifact store: `artifacts/journal/{prefix}/{id}.json`; emptied folders go). */
function journalEntries(dataDir: string): number {
  try {
    return readdirSync(path.join(dataDir, "artifacts", "journal"), { recursive: true }).filter((f) => String(f).endsWith(".json")).length;
  } catch {
    return 0;
  }
}

/** 20 runs of `workflow` in flight on one service process, then Redis restarted: the outcome of each check run. */
async function restartUnderLoad(name: string, workflow: "short" | "long", appendonly: boolean) {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dstack-${name}-`));
  const redis = await startRedis(name, appendonly ? { appendonly: { dir } } : {});
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  client.on("error", () => undefined);
  const service = await startServiceProcess({
    name,
    redisUrl: redis.url,
    prefix: redis.prefix,
    dataDir: dir,
    role: "all",
    github,
    env: { DSTACK_MAX_RUNS: String(RUNS), SERVICE_HEARTBEAT_SECONDS: "1", SERVICE_HEARTBEAT_LEASE_MS: "15000", SERVICE_LOCK_MS: "5000", SERVICE_STALLED_MS: "2500" },
  });
  cleanups.push(async () => {
    await service.kill();
    client.disconnect();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const ids = new Set<string>();
  for (let i = 0; i < RUNS; i++) ids.add(await submitRun(service.url, { repo: `${OWNER}/${REPO}`, commit: sha, files: FILES, workflow }));
  // Every run's agent started the workflow (its check run exists), and the restart comes while runs are active.
  const store = new RunStore({ redis: client, prefix: redis.prefix });
  const started = async () => (await Promise.all([...ids].map((id) => store.get(id)))).filter((r) => r.logBytes > 0 && r.checkRunId !== undefined);
  const end = Date.now() + 90_000;
  while ((await started()).length < RUNS) {
    if (Date.now() > end) throw new Error(`only ${(await started()).length} of ${RUNS} runs started within 90 s`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const activeAtRestart = (await started()).filter((r) => r.status === "running").length;
  const agents = await Promise.all([...ids].map(async (id) => Number((await store.get(id)).machine?.id)));
  expect(journalEntries(dir)).toBe(RUNS);
  const restartedAt = Date.now();
  await redis.kill(appendonly ? "SIGTERM" : "SIGKILL");
  await redis.start();
  // The runs go on through the restart and a few heartbeats after it (1 s each), then end.
  await new Promise((res) => setTimeout(res, 3000));
  await writeFile(RELEASE, "");
  const done = await github.waitFor(
    (g) => {
      const mine = g.checkRuns.filter((c) => ids.has(c.external_id));
      return mine.length === RUNS && mine.every((c) => c.status === "completed") && mine;
    },
    { timeoutMs: 90_000, description: `the ${RUNS} check runs completed` },
  );
  const seconds = (Date.now() - restartedAt) / 1000;
  // Published, then recorded as concluded (which removes the journal entry).
  const concludedBy = Date.now() + 20_000;
  while ((await store.unconcludedRunIds()).length > 0 && Date.now() < concludedBy) await new Promise((res) => setTimeout(res, 100));
  // The journal entry is removed just after the run is recorded as concluded: give the last removals a moment.
  const forgottenBy = Date.now() + 20_000;
  while (journalEntries(dir) > 0 && Date.now() < forgottenBy) await new Promise((res) => setTimeout(res, 100));
  const journalLeft = journalEntries(dir);
  return { service, store, ids, done, seconds, agents, journalLeft, activeAtRestart };
}

test("Redis restarted with AOF on under 20 active runs: no run lost", async () => {
  const r = await restartUnderLoad("redis-aof-on", "short", true);
  const lost = r.done.filter((c) => c.conclusion !== "success");
  const statuses = await Promise.all([...r.ids].map(async (id) => (await r.store.get(id)).status));
  console.log(
    `faults: Redis restarted with AOF on, ${r.activeAtRestart} of ${RUNS} runs running: lost runs ${lost.length}, all concluded ${r.seconds.toFixed(1)} s after the restart`,
  );
  expect(r.activeAtRestart).toBeGreaterThan(0);
  expect(lost.map((c) => `${c.external_id}: ${c.conclusion} ${c.output.summary ?? ""}`)).toEqual([]);
  expect(statuses.every((s) => s === "done")).toBe(true);
  expect(r.done.every((c) => github.checkRunUpdates(c.id).filter((u) => u.method === "PATCH" && u.body.status === "completed").length === 1)).toBe(true);
  expect(r.journalLeft).toBe(0);
  expect(isRunning(r.service.pid)).toBe(true);
}, 120_000);

test("Redis restarted empty (no persistence) under 20 active runs: every run concluded from the journal and GitHub, the service up", async () => {
  const r = await restartUnderLoad("redis-aof-off", "long", false);
  const reasons = r.done.map((c) => `${c.conclusion}: ${c.output.summary?.includes(STATE_LOST_REASON) === true ? "state lost" : (c.output.summary ?? "").slice(0, 200)}`);
  const statuses = await Promise.all([...r.ids].map(async (id) => await r.store.find(id)));
  // The agents, refused by the service, stopped by themselves; their workflows with them.
  const deadline = Date.now() + 20_000;
  while (r.agents.some(isRunning) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
  const agentsLeft = r.agents.filter(isRunning).length;
  console.log(
    `faults: Redis restarted without persistence, ${r.activeAtRestart} of ${RUNS} runs running: concluded "state lost" ${reasons.filter((x) => x === "failure: state lost").length}/${RUNS} within ${r.seconds.toFixed(1)} s, agents left running ${agentsLeft}, service process exits 0`,
  );
  expect(r.activeAtRestart).toBe(RUNS);
  expect(reasons).toEqual(Array.from({ length: RUNS }, () => "failure: state lost"));
  expect(statuses.map((s) => `${s?.status} ${s?.reason}`)).toEqual(Array.from({ length: RUNS }, () => `failed ${STATE_LOST_REASON}`));
  // One conclusion per check run, on the check run the run had (none created afresh).
  expect(github.checkRuns.filter((c) => r.ids.has(c.external_id))).toHaveLength(RUNS);
  expect(r.done.every((c) => github.checkRunUpdates(c.id).filter((u) => u.method === "PATCH" && u.body.status === "completed").length === 1)).toBe(true);
  expect(agentsLeft).toBe(0);
  expect(r.journalLeft).toBe(0);
  expect(isRunning(r.service.pid)).toBe(true);
  github.assertNoViolations();
}, 120_000);
