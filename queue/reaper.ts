import type { Logger } from "../src/logger.js";

export interface ReaperDeps {
  activeRunIds(): Promise<string[]>;
  hasRunJob(runId: string): Promise<boolean>;
  enqueueRun(runId: string): Promise<void>;
  /** Runs first on each tick: restores the runs Redis lost with its data (see recoverLostRuns). */
  recoverLost?(): Promise<unknown>;
  log: Pick<Logger, "info" | "warn">;
}

/**
 * Every active run has a supervisor: a run whose job is gone (a crash between creating it and
 * enqueueing, a supervisor interrupted by shutdown, a dependency that finished) is enqueued again.
 * Safe to run in every worker process at once: enqueueing uses the run id as job id.
 */
export function startReaper(deps: ReaperDeps, intervalMs = 10_000): { close(): Promise<void> } {
  let running: Promise<void> | undefined;
  const tick = async () => {
    // A failed recovery (GitHub down) is tried again next tick; it never holds up the reaping.
    await deps.recoverLost?.().catch((err: unknown) => deps.log.warn({ err }, "recovering runs lost with Redis's data failed"));
    for (const id of await deps.activeRunIds()) {
      if (!(await deps.hasRunJob(id))) await deps.enqueueRun(id);
    }
  };
  const timer = setInterval(() => {
    running ??= tick()
      .catch((err: unknown) => deps.log.warn({ err }, "reaper tick failed"))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
