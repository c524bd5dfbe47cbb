import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { timeline } from "../../src/api/run-page-view.js";
import { runJson } from "../../src/api/v1/run-json.js";
import { RunStore } from "../../src/runs/run-store.js";
import { blankWorkflow } from "../../src/workflow/blank-workflow.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

/** Every state transition of a run is recorded with its time, for the run page's timeline. */

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis("run-transitions");
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** A store on a clock the test moves: each transition happens a known number of seconds later. */
function clockedStore(startMs: number): { store: RunStore; advance(seconds: number): void } {
  let now = startMs;
  return { store: new RunStore({ redis, prefix: `${server.prefix}-${startMs}`, now: () => now }), advance: (s) => void (now += s * 1000) };
}

async function newRun(store: RunStore) {
  const { run } = await store.create({
    repo: "acme/ml",
    workflow: { ...blankWorkflow("train", "bash", { file: ".dstack/workflows.yaml", line: 1, column: 1 }), commands: ["true"] },
    commit: "0123456789abcdef0123456789abcdef01234567",
    trigger: { kind: "api", actor: "api" },
    groupId: "g1",
    needs: [],
    inputs: [],
    code: { kind: "github" },
    variables: {},
  });
  return run;
}

describe("run transitions", () => {
  it("records submitted, provisioning, running, uploading and the final state with their times", async () => {
    const start = Date.UTC(2026, 10, 30, 8, 0, 0);
    const { store, advance } = clockedStore(start);
    const run = await newRun(store);
    for (const [status, seconds] of [["provisioning", 2], ["running", 30], ["uploading", 600], ["done", 5]] as const) {
      advance(seconds);
      expect(await store.transition(run.id, status)).toBe(true);
    }
    const after = await store.get(run.id);
    expect(after.transitions).toEqual([
      { status: "submitted", at: start },
      { status: "provisioning", at: start + 2_000 },
      { status: "running", at: start + 32_000 },
      { status: "uploading", at: start + 632_000 },
      { status: "done", at: start + 637_000 },
    ]);
    expect(timeline(after)).toEqual([
      { label: "submitted", time: "2026-11-30 08:00:00 UTC" },
      { label: "provisioning", time: "2026-11-30 08:00:02 UTC" },
      { label: "running", time: "2026-11-30 08:00:32 UTC" },
      { label: "uploading", time: "2026-11-30 08:10:32 UTC" },
      { label: "done", time: "2026-11-30 08:10:37 UTC" },
    ]);
    // The API shows the same transitions (the pages and the CLI read one record).
    expect(runJson(after, "http://localhost:3000", start + 700_000).transitions.map((t) => `${t.status}@${t.at}`)).toEqual([
      "submitted@2026-11-30T08:00:00.000Z",
      "provisioning@2026-11-30T08:00:02.000Z",
      "running@2026-11-30T08:00:32.000Z",
      "uploading@2026-11-30T08:10:32.000Z",
      "done@2026-11-30T08:10:37.000Z",
    ]);
  });

  it("records only transitions that happened: a refused compare-and-set leaves no trace, and the current state says (now)", async () => {
    const start = Date.UTC(2026, 10, 30, 9, 0, 0);
    const { store, advance } = clockedStore(start);
    const run = await newRun(store);
    advance(1);
    expect(await store.transition(run.id, "running", { from: ["provisioning"] })).toBe(false);
    expect(await store.transition(run.id, "provisioning", { from: ["submitted"] })).toBe(true);
    const after = await store.get(run.id);
    expect(after.transitions?.map((t) => t.status)).toEqual(["submitted", "provisioning"]);
    expect(timeline(after).at(-1)).toEqual({ label: "provisioning (now)", time: "2026-11-30 09:00:01 UTC" });
  });
});

describe("an ended run's way to concluded", () => {
  // The supervisor concludes a run as soon as it reads its terminal status, which another process
  // (the agent API) wrote. Taking the run out of the active runs and into the concluding ones used to
  // follow that write in a second step: a conclusion in between was undone (the run put back into
  // `concluding`, concluded, there for good: the scale-out test waited on it forever).
  it("leaves no concluded run among the unconcluded ones, however the conclusion interleaves with the transition", async () => {
    const store = new RunStore({ redis, prefix: `${server.prefix}-interleave` });
    const runs = await Promise.all(Array.from({ length: 40 }, () => newRun(store)));
    await Promise.all(
      runs.map(async (run) => {
        const ended = store.transition(run.id, "done");
        // The supervisor's side: it sees the status, then concludes at once.
        while ((await redis.hget(store.key("run", run.id), "status")) !== '"done"') await new Promise((r) => setImmediate(r));
        await store.update(run.id, { concluded: true });
        expect(await ended).toBe(true);
      }),
    );
    expect(await store.unconcludedRunIds()).toEqual([]);
  });

  it("lets the supervisor settle a concluded run left among the active ones (a crash between the two steps of an end)", async () => {
    const store = new RunStore({ redis, prefix: `${server.prefix}-settle` });
    const run = await newRun(store);
    expect(await store.transition(run.id, "done")).toBe(true);
    await store.update(run.id, { concluded: true });
    // What a process killed right after its status write left behind.
    await redis.sadd(store.key("runs", "active"), run.id);
    await redis.sadd(store.key("runs", "concluding"), run.id);
    await store.settleConcluded(run.id);
    expect(await store.unconcludedRunIds()).toEqual([]);
  });
});
