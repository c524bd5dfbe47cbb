import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { budgetAdmission } from "../src/runs/budget.js";
import { RunStore } from "../src/runs/run-store.js";
import type { Run } from "../src/runs/types.js";
import { startRedis } from "../test/helpers/redis.js";
import { bashWorkflow } from "../test/helpers/seed-run.js";
import type { Benchmark } from "./report.js";
import { quantile } from "./report.js";

/**
 * The daily budget gate (DSTACK_EC2_BUDGET_PER_DAY), which the supervisor asks before each new run
 * starts: one repository with `ENDED` priced runs ended today and `RUNNING` still running, on a real
 * Redis; the time of one admission check, median and p99 over `CHECKS` checks. Its cost should not
 * grow with the runs the repository already had today.
 */

const SIZES = [100, 2000];
const RUNNING = 4;
const CHECKS = 200;
const REPO = "acme/budget-bench";

async function seed(store: RunStore, ended: number): Promise<Run> {
  const now = Date.now();
  const make = async (name: string) =>
    (await store.create({ repo: REPO, workflow: bashWorkflow(name), commit: "0".repeat(40), trigger: { kind: "api", actor: "api" }, groupId: `g-${name}`, needs: [], inputs: [], code: { kind: "github" }, variables: {} })).run;
  for (let i = 0; i < ended + RUNNING; i++) {
    const run = await make(`w${i}`);
    await store.update(run.id, { machine: { backend: "ec2", id: `i-${i}`, description: "bench", details: { pricePerHour: 0.001, gpuCount: 1, launchedAt: now - 60_000 } } });
    if (i < ended) await store.transition(run.id, "done");
  }
  return make("new");
}

const bench: Benchmark = {
  name: "budget: one admission check against a repository's day of runs",
  async run(report) {
    for (const ended of SIZES) {
      const redis = await startRedis(`bench-budget-${ended}`);
      const client = new Redis(redis.url);
      try {
        const store = new RunStore({ redis: client, prefix: redis.prefix });
        const candidate = await seed(store, ended);
        const admit = budgetAdmission({ store, budget: { dollars: 1_000_000 } });
        for (let i = 0; i < 10; i++) await admit(candidate);
        const times: number[] = [];
        for (let i = 0; i < CHECKS; i++) {
          const start = performance.now();
          await admit(candidate);
          times.push(performance.now() - start);
        }
        const note = `${ended} runs ended today, ${RUNNING} running`;
        report({ name: `check p50 (${ended} ended)`, value: quantile(times, 0.5), unit: "ms", note });
        report({ name: `check p99 (${ended} ended)`, value: quantile(times, 0.99), unit: "ms", note });
      } finally {
        client.disconnect();
        await redis.stop();
      }
    }
  },
};

export default bench;
