import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "../src/logger.js";
import { QUEUE_EVENTS, QUEUE_RUNS, type EventJob, type RunJob } from "./jobs.js";

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** Runs supervised at once by this process (DSTACK_MAX_RUNS). */
  maxRuns: number;
  /** Webhook events handled at once (default 8). */
  eventConcurrency?: number;
  processEvent(job: EventJob, signal: AbortSignal): Promise<void>;
  processRun(job: RunJob, signal: AbortSignal): Promise<void>;
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
  const events = new Worker<EventJob>(
    QUEUE_EVENTS,
    async (job: Job<EventJob>, _token?: string, signal?: AbortSignal) => options.processEvent(job.data, signal ?? shutdown.signal),
    { ...common, concurrency: options.eventConcurrency ?? 8 },
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
      lockDuration: 30_000,
      stalledInterval: 15_000,
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
