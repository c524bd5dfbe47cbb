import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "../src/logger.js";
import { BACKOFF_TRANSIENT, QUEUE_EVENTS, QUEUE_RUNS, type EventJob, type RunJob } from "./jobs.js";

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Runs supervised at once by this process (DSTACK_MAX_RUNS). */
  maxRuns: number;
  /** Webhook events handled at once (default 8). */
  eventConcurrency?: number;
  /**
   * How long a run job's lock lasts without renewal (default 30 s; renewed every half of it while
   * the process lives): a dead process's runs are adopted at most `lockDurationMs + stalledIntervalMs` later.
   */
  lockDurationMs?: number;
  /** How often each worker looks for run jobs whose lock expired (default 15 s). */
  stalledIntervalMs?: number;
  processEvent(job: EventJob, signal: AbortSignal): Promise<void>;
  processRun(job: RunJob, signal: AbortSignal): Promise<void>;
  /**
   * How long to wait before an event job that failed with `err` runs again (`attempt` 1 = first
   * retry), or undefined when retrying cannot help: the job then fails at once. Default: 2 s doubling.
   */
  retryDelayMs?(err: unknown, attempt: number): number | undefined;
  log: Pick<Logger, "warn" | "error">;
}

export interface Workers {
  close(): Promise<void>;
}

/**
 * The consumers: one BullMQ worker per queue. Closing aborts the supervisors (they leave their
 * runs for another process to adopt) and does not wait for long runs to end.
 */
export function startWorkers(options: WorkerOptions): Workers {
  const shutdown = new AbortController();
  const common = { connection: options.connection, prefix: options.prefix };
  const retryDelayMs = options.retryDelayMs ?? ((_err: unknown, attempt: number) => 2000 * 2 ** (attempt - 1));
  const events = new Worker<EventJob>(
    QUEUE_EVENTS,
    async (job: Job<EventJob>, _token?: string, signal?: AbortSignal) => {
      try {
        await options.processEvent(job.data, signal ?? shutdown.signal);
      } catch (err) {
        // Permanent failures (a 404, a 422, a user's mistake) are not retried: BullMQ's way to say so.
        if (retryDelayMs(err, 1) === undefined) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
    {
      ...common,
      concurrency: options.eventConcurrency ?? 8,
      settings: {
        // Jobs use `backoff: { type: BACKOFF_TRANSIENT }`: the wait follows GitHub's `retry-after`.
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
          type === BACKOFF_TRANSIENT ? (retryDelayMs(err, attemptsMade) ?? -1) : 2000 * 2 ** (attemptsMade - 1),
      },
    },
  );
  const runs = new Worker<RunJob>(
    QUEUE_RUNS,
    async (job: Job<RunJob>, _token?: string, signal?: AbortSignal) => {
      const combined = signal === undefined ? shutdown.signal : AbortSignal.any([signal, shutdown.signal]);
      await options.processRun(job.data, combined);
    },
    {
      ...common,
      concurrency: options.maxRuns,
      // Long jobs: the lock is renewed while the process lives; a dead process's runs are
      // adopted once the lock expires. Stalls are normal here (crashes), not poison.
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 15_000,
      maxStalledCount: 1000,
    },
  );
  for (const w of [events, runs]) {
    w.on("failed", (job, err) => options.log.warn({ jobId: job?.id, queue: w.name, err: err.message }, "job failed"));
    w.on("error", (err) => options.log.error({ err, queue: w.name }, "worker error"));
  }
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        // Supervisors see the abort, leave their runs as they are and fail their jobs (removed),
        // so another process's reaper adopts the runs at once instead of after the lock expires.
        shutdown.abort();
        await Promise.allSettled([events.close(), runs.close()]);
      })();
      return closed;
    },
  };
}
