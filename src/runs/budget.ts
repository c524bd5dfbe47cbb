import type { DailyBudget } from "../ec2-config.js";
import { formatDollars, machineCost, machineSpans } from "./machine-facts.js";
import type { RunStore } from "./run-store.js";
import type { Run } from "./types.js";

/** What machines cost in a window: dollars (price x time) and GPU-hours (GPUs x time). */
export interface Spend {
  dollars: number;
  gpuHours: number;
}

const DAY_MS = 24 * 3600_000;

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/**
 * What the machines of `runs` cost inside `[fromMs, toMs]`: each from its launch to its end (a
 * running one: to `toMs`), at the price its offer was chosen at, interrupted attempts' machines
 * included. Runs without a priced machine (the local backend) cost nothing. Pure.
 */
export function spendBetween(runs: readonly Run[], fromMs: number, toMs: number): Spend {
  const spend: Spend = { dollars: 0, gpuHours: 0 };
  for (const span of runs.flatMap((run) => machineSpans(run))) {
    const start = Math.max(fromMs, span.fromMs);
    const end = Math.min(toMs, span.toMs ?? toMs);
    if (end <= start) continue;
    if (span.pricePerHour !== undefined) spend.dollars += machineCost(span.pricePerHour, start, end);
    if (span.gpuCount !== undefined) spend.gpuHours += (span.gpuCount * (end - start)) / 3_600_000;
  }
  return spend;
}

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
  store: Pick<RunStore, "list">;
  budget: DailyBudget;
  /** DSTACK_MAX_RUN_MINUTES plus boot and upload: how long before today a run still running may have started. */
  maxMachineMinutes: number;
  now?: () => number;
}

/** Runs read per page while summing a repository's day. */
const PAGE = 200;

/**
 * The supervisor's budget gate: a new run of a repository that has spent its daily budget today
 * (finished and running runs, UTC) waits for approval. Scans the repository's runs newest first,
 * back to the oldest that could still have had a machine today.
 */
export function budgetAdmission(deps: BudgetAdmissionDeps): (run: Run) => Promise<string | undefined> {
  const now = deps.now ?? Date.now;
  return async (run) => {
    const t = now();
    const dayStart = startOfUtcDay(t);
    const oldest = dayStart - deps.maxMachineMinutes * 60_000;
    const runs: Run[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await deps.store.list({ repo: run.repo, limit: PAGE, before });
      runs.push(...page.filter((r) => r.id !== run.id && r.createdAt >= oldest));
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE || last.createdAt < oldest) break;
      before = last.createdAt;
    }
    return overBudget(spendBetween(runs, dayStart, t), deps.budget, run.id);
  };
}
