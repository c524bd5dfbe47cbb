/** A GitHub webhook delivery, trimmed to what handlers read. Job id: the delivery id. */
export interface EventJob {
  id: string;
  name: string;
  payload: Record<string, unknown>;
}

/** Supervise one run. Job id: the run id (one supervisor per run at a time). */
export interface RunJob {
  runId: string;
}

export const QUEUE_EVENTS = "events";
export const QUEUE_RUNS = "runs";

/** Backoff type of event jobs: the worker's `retryDelayMs` decides the wait (GitHub's retry-after). */
export const BACKOFF_TRANSIENT = "transient";
