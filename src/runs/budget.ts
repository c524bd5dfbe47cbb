import type { DailyBudget } from "../ec2-config.js";
import { dailySpendKeyParts, spendBetween, startOfUtcDay, type Spend } from "./daily-spend.js";
import { formatDollars } from "./machine-facts.js";
import type { RunStore } from "./run-store.js";
import type { Run } from "./types.js";

/**
 * The message that holds a new run when `spent` reached either limit of `budget`, naming what was
 * spent and how to let the run through; undefined while the budget allows it.
 */
export function overBudget(spent: Spend, budget: DailyBudget, runId: string): string | undefined {
  const over: string[] = [];
  if (budget.dollars !== undefined && spent.dollars >= budget.dollars) {
    over.push(`${formatDollars(spent.dollars)} of its ${formatDollars(budget.dollars)} daily budget`);
  }
  if (budget.gpuHours !== undefined && spent.gpuHours >= budget.gpuHours) {
    over.push(`${spent.gpuHours.toFixed(1)} of its ${budget.gpuHours} GPU-hours daily budget`);
  }
  if (over.length === 0) return undefined;
  return `waiting for approval: this repository spent ${over.join(" and ")} (DSTACK_EC2_BUDGET_PER_DAY, UTC day); a writer can comment \`/dstack approve ${runId}\` (or run \`dstack approve ${runId}\`)`;
}

export interface BudgetAdmissionDeps {
  store: Pick<RunStore, "redis" | "key" | "find">;
  budget: DailyBudget;
  now?: () => number;
}

/**
 * The supervisor's budget gate: a new run of a repository that has spent its daily budget today
 * (finished and running runs, UTC) waits for approval. Reads the day's spend of the runs that ended
 * (`{prefix}:spend:{repo}:{day}`, which RunStore adds to as each run leaves the active runs) and the
 * repository's active runs, in one snapshot, so a check costs the same however many runs the day
 * had (`npm run bench -- budget`).
 */
export function budgetAdmission(deps: BudgetAdmissionDeps): (run: Run) => Promise<string | undefined> {
  const now = deps.now ?? Date.now;
  const { redis } = deps.store;
  return async (run) => {
    const t = now();
    const snapshot = await redis
      .multi()
      .hmget(deps.store.key(...dailySpendKeyParts(run.repo, t)), "dollars", "gpuHours")
      .smembers(deps.store.key("runs", "active"))
      .exec();
    const [ended, active] = (snapshot ?? []).map(([err, value]) => {
      if (err !== null) throw err;
      return value;
    }) as [Array<string | null>, string[]];
    const live = await activeRunsOf(deps.store, run.repo, active.filter((id) => id !== run.id));
    const spent: Spend = spendBetween(live, startOfUtcDay(t), t);
    spent.dollars += Number(ended[0] ?? 0);
    spent.gpuHours += Number(ended[1] ?? 0);
    return overBudget(spent, deps.budget, run.id);
  };
}

/** The runs among `ids` (the active runs of every repository) that belong to `repo`. */
async function activeRunsOf(store: Pick<RunStore, "find">, repo: string, ids: string[]): Promise<Run[]> {
  const runs = await Promise.all(ids.map((id) => store.find(id)));
  return runs.filter((r): r is Run => r !== undefined && r.repo === repo);
}
