import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "../src/logger.js";

export const QUEUE_RECONCILE = "reconcile";
const SCHEDULER_ID = "reconcile-machines";

export interface ReconcilerOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** One pass: find the backend's orphaned machines and end them. */
  reconcile(): Promise<void>;
  /** Between passes (default 2 minutes). */
  everyMs?: number;
  log: Pick<Logger, "warn">;
}

export interface Reconciler {
  /** Resolves when the start-up pass has been queued (the pass itself runs in the worker). */
  readonly started: Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `reconcile` every `everyMs` through a BullMQ job scheduler (one schedule in Redis however many
 * worker processes upsert it, so passes do not multiply) and once at start-up, so a service that
 * crashed cleans up after itself as soon as it is back. A failed pass is logged; the next one retries.
 */
export function startReconciler(options: ReconcilerOptions): Reconciler {
  const common = { connection: options.connection, prefix: options.prefix };
  const queue = new Queue(QUEUE_RECONCILE, { ...common, defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 100 } } });
  const worker = new Worker(QUEUE_RECONCILE, () => options.reconcile(), { ...common, concurrency: 1 });
  worker.on("failed", (job, err) => options.log.warn({ jobId: job?.id, err: err.message }, "reconciling machines failed"));
  worker.on("error", (err) => options.log.warn({ err: err.message }, "reconciler worker error"));
  const everyMs = options.everyMs ?? 120_000;
  const started = (async () => {
    await queue.upsertJobScheduler(SCHEDULER_ID, { every: everyMs }, { name: "reconcile", opts: { removeOnComplete: true, removeOnFail: { count: 100 } } });
    await queue.add("reconcile-at-start", {});
  })().catch((err: unknown) => options.log.warn({ err }, "scheduling the reconciler failed"));
  let closed: Promise<void> | undefined;
  return {
    started,
    close() {
      closed ??= (async () => {
        await started;
        await Promise.allSettled([worker.close(), queue.close()]);
      })();
      return closed;
    },
  };
}
