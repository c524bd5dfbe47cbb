import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { API_TOKEN, agentLaunches } from "../helpers/service-process.js";
import { startFleet, type Fleet } from "../helpers/run-fleet.js";

/**
 * Scale-out (issue 9): three service processes on one Redis (web + two workers) share 200 runs of
 * `hello`, and one worker is killed with `kill -9` mid-way. "Exactly once", per run:
 *   - one agent process was started for it (the local backend's launch record), and its workflow
 *     ran once (its log holds its `hello from <run id>` line once);
 *   - it ended `done` and was concluded once (one "run concluded" in the service logs; a run
 *     the killed worker supervised is concluded by the other, which adopted it).
 * A worker's death does not interrupt an execution here: agents are processes of their own that
 * talk to the web process, so a run that lost its supervisor is adopted, never re-executed (re-executions
 * are counted and must be 0).
 */
const RUNS = 200;
const LOCK_MS = 3000;
const STALLED_MS = 1500;

let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet({
    name: "scale-out",
    workers: 2,
    maxRuns: 6,
    env: { SERVICE_LOCK_MS: String(LOCK_MS), SERVICE_STALLED_MS: String(STALLED_MS), SERVICE_HEARTBEAT_SECONDS: "2" },
  });
}, 60_000);

afterAll(async () => {
  await fleet?.close();
});

test("200 runs on web + 2 workers, one worker killed with kill -9 mid-way: every run done exactly once", async () => {
  const started = Date.now();
  const [victim, survivor] = fleet.workers as [NonNullable<(typeof fleet.workers)[0]>, NonNullable<(typeof fleet.workers)[1]>];
  const ids = await fleet.submit(RUNS);
  let killedAt = 0;
  let concludedAtKill = 0;
  // Generous: 200 runs take 70-80 s here alone, and a CI machine running another suite beside may need twice that.
  await fleet.allConcluded(240_000, (concluded) => {
    if (killedAt === 0 && concluded >= RUNS / 3) {
      killedAt = Date.now();
      concludedAtKill = concluded;
      void victim.kill("SIGKILL");
    }
  });
  const seconds = (Date.now() - started) / 1000;
  expect(await victim.exited).toBe("SIGKILL");

  const launches = agentLaunches(fleet.dataDir);
  const concludedBy = new Map<string, number>();
  for (const p of [victim, survivor]) {
    for (const l of p.logs) if (l.msg === "run concluded" && l.runId !== undefined) concludedBy.set(l.runId, (concludedBy.get(l.runId) ?? 0) + 1);
  }
  // Runs the victim supervised and did not conclude: the survivor adopted them.
  const adopted = ids.filter((id) => victim.logs.some((l) => l.msg === "supervising run" && l.runId === id) && !victim.logs.some((l) => l.msg === "run concluded" && l.runId === id));
  const problems: string[] = [];
  let helloOnce = 0;
  for (const id of ids) {
    const run = await fleet.store.get(id);
    const res = await fetch(`${fleet.web.url}/api/v1/runs/${id}/logs`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const log = await res.text();
    const hellos = log.split(`hello from ${id}`).length - 1;
    if (hellos === 1) helloOnce++;
    if (run.status !== "done" || !run.concluded || launches.get(id) !== 1 || hellos !== 1 || (concludedBy.get(id) ?? 0) > 1) {
      problems.push(`${id}: ${run.status} concluded=${run.concluded} launches=${launches.get(id) ?? 0} hello lines=${hellos} conclusions logged=${concludedBy.get(id) ?? 0}`);
    }
  }
  const reexecuted = ids.filter((id) => (launches.get(id) ?? 0) > 1).length;
  console.log(
    [
      `scale-out: ${RUNS} runs on web + 2 workers (DSTACK_MAX_RUNS=6 each), one worker killed with kill -9 after ${concludedAtKill} runs had concluded: all concluded in ${seconds.toFixed(1)} s (${((RUNS / seconds) * 60).toFixed(0)} runs/min)`,
      `scale-out: runs done with exactly one agent and one hello line: ${helloOnce}/${RUNS}; adopted from the killed worker: ${adopted.length}; re-executed: ${reexecuted}; problems: ${problems.length}`,
    ].join("\n"),
  );
  expect(problems).toEqual([]);
  expect(reexecuted).toBe(0);
  expect(killedAt).toBeGreaterThan(0);
  // The survivor really took over work after the kill.
  expect(survivor.logs.some((l) => l.msg === "run concluded" && l.time > killedAt)).toBe(true);
}, 300_000);
