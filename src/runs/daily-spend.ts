import { machineCost, machineSpans } from "./machine-facts.js";
import type { Run } from "./types.js";

/** What machines cost in a window: dollars (price x time) and GPU-hours (GPUs x time). */
export interface Spend {
  dollars: number;
  gpuHours: number;
}

const DAY_MS = 24 * 3600_000;

/** How long a day's spend stays in Redis: the budget reads only the current UTC day; a margin for clock skew between processes. */
export const DAILY_SPEND_TTL_SECONDS = 2 * 24 * 3600;

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The Redis hash (under the store's prefix) of what a repository's ended runs cost on the UTC day that holds `ms`: `dollars`, `gpuHours`. */
export function dailySpendKeyParts(repo: string, ms: number): string[] {
  return ["spend", repo, new Date(startOfUtcDay(ms)).toISOString().slice(0, 10)];
}

/**
 * What the machines of `runs` cost inside `[fromMs, toMs]`: each from its launch to its end (a
 * running one: to `toMs`), at the price its offer was chosen at, interrupted attempts' machines
 * included. Runs without a priced machine (the local backend) cost nothing. Pure.
 */
export function spendBetween(runs: readonly Pick<Run, "machine" | "finishedAt" | "attempts">[], fromMs: number, toMs: number): Spend {
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
