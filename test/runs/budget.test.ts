import { describe, expect, it } from "@jest/globals";
import { overBudget } from "../../src/runs/budget.js";
import { spendBetween, startOfUtcDay } from "../../src/runs/daily-spend.js";
import { machineFacts } from "../../src/runs/machine-facts.js";
import type { Run } from "../../src/runs/types.js";

const DAY = startOfUtcDay(Date.UTC(2026, 10, 30, 15, 0, 0));
const H = 3600_000;

/** Only what the spend reads of a run: its machine's price, GPUs and launch, and its end. */
function run(details: Record<string, number>, finishedAt?: number): Run {
  return { id: "r", machine: { backend: "ec2", id: "i-1", description: "", details }, finishedAt } as Run;
}

describe("a repository's spend", () => {
  it("counts each machine's price and GPUs for its time inside the day: a run from yesterday only from midnight, a running one up to now", () => {
    const spent = spendBetween(
      [
        run({ pricePerHour: 2, gpuCount: 1, launchedAt: DAY - 2 * H }, DAY + H), // 1 h today
        run({ pricePerHour: 10, gpuCount: 4, launchedAt: DAY + 3 * H }), // running: 2 h so far
        run({ pricePerHour: 99, gpuCount: 8, launchedAt: DAY - 5 * H }, DAY - H), // all yesterday
        run({}), // the local backend: no price
      ],
      DAY,
      DAY + 5 * H,
    );
    expect(spent.dollars).toBeCloseTo(2 + 20, 10);
    expect(spent.gpuHours).toBeCloseTo(1 + 8, 10);
  });

  it("counts the machines of interrupted attempts too, in the spend and in the run's cost", () => {
    const resumed = {
      ...run({ pricePerHour: 3, gpuCount: 1, launchedAt: DAY + 2 * H }, DAY + 3 * H),
      attempts: [{ attempt: 1, machine: "g5.xlarge spot", interruptedAt: DAY + H, checkpointFiles: 0, checkpointBytes: 0, pricePerHour: 1, gpuCount: 1, launchedAt: DAY }],
    } as Run;
    const spent = spendBetween([resumed], DAY, DAY + 5 * H);
    expect(spent.dollars).toBeCloseTo(1 + 3, 10);
    expect(spent.gpuHours).toBeCloseTo(2, 10);
    expect(machineFacts(resumed, DAY + 5 * H)?.costDollars).toBeCloseTo(4, 10);
  });

  it("holds new runs once either limit is reached, saying what was spent and how to approve", () => {
    expect(overBudget({ dollars: 4.99, gpuHours: 100 }, { dollars: 5 }, "abc")).toBeUndefined();
    expect(overBudget({ dollars: 5, gpuHours: 0 }, { dollars: 5 }, "abc")).toBe(
      "waiting for approval: this repository spent $5.00 of its $5.00 daily budget (DSTACK_EC2_BUDGET_PER_DAY, UTC day); a writer can comment `/dstack approve abc` (or run `dstack approve abc`)",
    );
    expect(overBudget({ dollars: 1, gpuHours: 12.34 }, { dollars: 5, gpuHours: 10 }, "abc")).toMatch(/^waiting for approval: this repository spent 12\.3 of its 10 GPU-hours daily budget \(/);
  });
});
