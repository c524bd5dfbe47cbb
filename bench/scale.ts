import os from "node:os";
import { startFleet } from "../test/helpers/run-fleet.js";
import type { Benchmark } from "./report.js";

/**
 * Scale-out (issue 9): runs of the trivial `hello` workflow per minute with 1, 2 and 3 worker
 * processes (plus one web process) of the compiled service on one Redis, local backend, each worker
 * supervising DSTACK_MAX_RUNS=4 runs at once. A run counts when it is concluded. On a 2-core machine
 * the agents' start-up (a Node process per run) competes with the workers for the same cores, so
 * more workers help only as far as the CPUs allow: the figures say how far.
 * BENCH_SCALE_RUNS (default 60) runs per measurement.
 */
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? "60");

const scale: Benchmark = {
  name: "scale: runs per minute by worker processes (local backend, hello)",
  async run(report) {
    for (const workers of [1, 2, 3]) {
      const fleet = await startFleet({ name: `bench-scale-${workers}`, workers, maxRuns: 4, env: { LOG_LEVEL: "warn" } });
      try {
        await fleet.submit(2);
        await fleet.allConcluded(60_000); // warm-up: the first runs load the code paths
        const started = Date.now();
        await fleet.submit(RUNS);
        await fleet.allConcluded(15 * 60_000);
        const minutes = (Date.now() - started) / 60_000;
        report({
          name: `scale, ${workers} worker process${workers > 1 ? "es" : ""}`,
          value: RUNS / minutes,
          unit: "runs/min",
          note: `${RUNS} runs, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)} at the end`,
        });
      } finally {
        await fleet.close();
      }
    }
  },
};

export default scale;
