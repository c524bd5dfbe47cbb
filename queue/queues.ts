import { Queue, type ConnectionOptions } from "bullmq";
import { BACKOFF_TRANSIENT, QUEUE_EVENTS, QUEUE_RUNS, type EventJob, type RunJob } from "./jobs.js";

/**
 * The producers' side of BullMQ: the only place jobs are added. Job ids derive from stable keys
 * (delivery id, run id) so a redelivery or a second enqueue never doubles the work.
 */
export class Queues {
  readonly events: Queue<EventJob>;
  readonly runs: Queue<RunJob>;
  private closed: Promise<void> | undefined;

  constructor(options: { connection: ConnectionOptions; prefix: string }) {
    const common = { connection: options.connection, prefix: options.prefix };
    this.events = new Queue<EventJob>(QUEUE_EVENTS, {
      ...common,
      defaultJobOptions: {
        // Handlers are idempotent step by step, so a retry resumes: 10 tries over about 4 minutes
        // ride out a GitHub outage or a secondary rate limit (waits follow `retry-after`).
        attempts: 10,
        backoff: { type: BACKOFF_TRANSIENT },
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    });
    this.runs = new Queue<RunJob>(QUEUE_RUNS, {
      ...common,
      // A finished supervision is removed so the run id is free again: the reaper re-enqueues runs
      // that are still active (after a crash, a shutdown, or a wait on dependencies).
      defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
  }

  async enqueueEvent(job: EventJob): Promise<void> {
    await this.events.add(job.name, job, { jobId: job.id.replace(/:/g, "_") });
  }

  async enqueueRun(runId: string): Promise<void> {
    await this.runs.add("run", { runId }, { jobId: runId });
  }

  /** Whether a supervision job for the run is waiting or active. */
  async hasRunJob(runId: string): Promise<boolean> {
    const job = await this.runs.getJob(runId);
    return job !== undefined && job !== null;
  }

  close(): Promise<void> {
    this.closed ??= Promise.allSettled([this.events.close(), this.runs.close()]).then(() => undefined);
    return this.closed;
  }
}
