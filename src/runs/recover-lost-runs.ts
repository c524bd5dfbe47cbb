import type { Logger } from "../logger.js";
import type { JournalEntry, RunJournal } from "./run-journal.js";
import type { RunStore } from "./run-store.js";

/** The reason a run lost with Redis's data ends with (check run `failure`). */
export const STATE_LOST_REASON = "state lost: Redis restarted without persistence (run Redis with appendonly yes)";

export interface RecoverLostRunsDeps {
  store: RunStore;
  journal: Pick<RunJournal, "entries" | "forget">;
  /** The run's check run, found on GitHub by its external id (the run id), when it has one. */
  findCheckRun?(entry: JournalEntry): Promise<{ id: number; completed: boolean } | undefined>;
  log: Pick<Logger, "info" | "warn">;
}

/** Redis key present while Redis holds the service's data: written at the first start, gone with the data. */
const MARKER = "data-marker";
const LOCK = "recovering";
const LOCK_SECONDS = 300;

/**
 * Notices that Redis came back without its data (the marker key is gone: Redis restarted without
 * AOF, or was flushed) and then restores every run of the journal that Redis no longer knows as
 * `failed` with STATE_LOST_REASON, its check run found on GitHub: the reaper then hands each to a
 * supervisor, which concludes it like any other run (check run completed, full log kept). Its
 * agent, refused by the service (no token), has stopped by itself. Cheap when nothing was lost
 * (one EXISTS), so it runs at start-up and on every reaper tick, in every worker process; a lock
 * lets one process recover at a time. Returns how many runs were restored.
 */
export async function recoverLostRuns(deps: RecoverLostRunsDeps): Promise<number> {
  const redis = deps.store.redis;
  if ((await redis.exists(deps.store.key(MARKER))) === 1) return 0;
  if ((await redis.set(deps.store.key(LOCK), String(process.pid), "EX", LOCK_SECONDS, "NX")) !== "OK") return 0;
  try {
    let restored = 0;
    for (const entry of await deps.journal.entries()) {
      if ((await deps.store.find(entry.id)) !== undefined) continue;
      const checkRun = await deps.findCheckRun?.(entry);
      if (checkRun?.completed === true) {
        // Concluded before the loss; only its entry stayed behind (removing it had failed).
        await deps.journal.forget(entry.id);
        continue;
      }
      await deps.store.create(entry);
      if (checkRun !== undefined) await deps.store.update(entry.id, { checkRunId: checkRun.id });
      await deps.store.transition(entry.id, "failed", { patch: { reason: STATE_LOST_REASON } });
      restored++;
    }
    await redis.set(deps.store.key(MARKER), new Date().toISOString());
    if (restored > 0) deps.log.warn({ restored }, "Redis lost its data: runs of the journal restored as failed");
    return restored;
  } finally {
    await redis.del(deps.store.key(LOCK));
  }
}
