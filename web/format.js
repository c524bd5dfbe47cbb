/**
 * `42s`, `3m 5s`, `2h 7m`: the words of `formatDuration` in src/runs/run-view.ts, so a duration the
 * page updates reads as the one the server rendered.
 */
export function formatDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/**
 * A run's duration from its API form (src/api/v1/run-json.ts): `durationMs` once it started; a run
 * that ended before it started (stopped while it waited) counts from its creation to its end, as the
 * pages do (`runDurationMs`); undefined while it still waits (its start is not known yet).
 */
export function runDurationMs(run) {
  if (run.durationMs !== undefined) return run.durationMs;
  if (run.finishedAt !== undefined) return Date.parse(run.finishedAt) - Date.parse(run.createdAt);
  return undefined;
}

/** The states a run ends in (DESIGN.md §6; `TERMINAL_STATUSES` in src/runs/types.ts). */
export const TERMINAL = ["done", "failed", "stopped", "timed_out"];
