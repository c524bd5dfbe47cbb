import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { budgetAdmission } from "../../src/runs/budget.js";
import { startOfUtcDay } from "../../src/runs/daily-spend.js";
import { RunStore } from "../../src/runs/run-store.js";
import type { Run } from "../../src/runs/types.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { bashWorkflow } from "../helpers/seed-run.js";

/**
 * The budget gate on real Redis: ended runs are counted from the day's spend that RunStore adds to
 * as each run ends (their records are not read again), active runs live; other repositories and
 * other days do not count.
 */

const DAY = startOfUtcDay(Date.UTC(2026, 10, 30, 12, 0, 0));
const H = 3600_000;
const REPO = "acme/ledger";

let redis: TestRedis;
let client: Redis;
let store: RunStore;
let clock = DAY;

beforeAll(async () => {
  redis = await startRedis("budget-admission");
  client = new Redis(redis.url);
  store = new RunStore({ redis: client, prefix: redis.prefix, now: () => clock });
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** A run of `repo` with a priced machine launched at `launchedAt`; ended at `endAt` when given (the store's clock set there). */
async function pricedRun(repo: string, pricePerHour: number, launchedAt: number, endAt?: number): Promise<Run> {
  const trigger = { kind: "api", actor: "api" } as const;
  const { run } = await store.create({ repo, workflow: bashWorkflow("w"), commit: "0".repeat(40), trigger, groupId: `g-${launchedAt}-${pricePerHour}`, needs: [], inputs: [], code: { kind: "github" }, variables: {} });
  await store.update(run.id, { machine: { backend: "ec2", id: `i-${run.id}`, description: "", details: { pricePerHour, gpuCount: 1, launchedAt } } });
  if (endAt !== undefined) {
    clock = endAt;
    await store.transition(run.id, "done");
  }
  return store.get(run.id);
}

describe("the budget gate's day of spend", () => {
  it("adds ended runs from the day's total, active ones live, and nothing of other repositories or days", async () => {
    const yesterday = await pricedRun(REPO, 50, DAY - 3 * H, DAY - H); // all yesterday
    const overMidnight = await pricedRun(REPO, 3, DAY - H, DAY + H); // 1 h today: $3
    const ended = await pricedRun(REPO, 2, DAY + H, DAY + 2 * H); // $2
    await pricedRun("acme/other", 99, DAY + H, DAY + 2 * H); // another repository
    await pricedRun(REPO, 10, DAY + 3 * H); // running: 2 h by the check, $20
    const candidate = await pricedRun(REPO, 0, DAY + 5 * H); // the run being admitted counts nothing of itself
    clock = DAY + 5 * H;
    const admit = budgetAdmission({ store, budget: { dollars: 1 }, now: () => clock });
    const expected = "waiting for approval: this repository spent $25.00 of its $1.00 daily budget";
    expect(await admit(candidate)).toContain(expected);

    // The ended runs' records are not read again: without them the check says the same.
    for (const run of [yesterday, overMidnight, ended]) await client.del(store.key("run", run.id));
    expect(await admit(candidate)).toContain(expected);

    // A new UTC day starts from nothing but what is still running: 1 h of the $10/h machine.
    clock = DAY + 24 * H + H;
    expect(await budgetAdmission({ store, budget: { dollars: 1 }, now: () => clock })(candidate)).toContain("spent $10.00 of its $1.00");
  });
});
