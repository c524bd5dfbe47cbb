import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { QUEUE_RECONCILE, startReconciler } from "../../queue/reconciler.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let redis: TestRedis;
let connection: Redis;

beforeAll(async () => {
  redis = await startRedis("reconciler");
  connection = new Redis(redis.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  connection.disconnect();
  await redis.stop();
});

const warnings: unknown[] = [];
const log = { warn: (obj: unknown) => void warnings.push(obj) };

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("startReconciler", () => {
  it("reconciles once at start-up, then on a single job scheduler however many processes start it", async () => {
    const prefix = `${redis.prefix}:a`;
    const passes: number[] = [];
    const started = Date.now();
    const everyMs = 60_000;
    const first = startReconciler({ connection, prefix, everyMs, log, reconcile: async () => void passes.push(Date.now() - started) });
    const second = startReconciler({ connection, prefix, everyMs, log, reconcile: async () => void passes.push(Date.now() - started) });
    await Promise.all([first.started, second.started]);
    // Each process's start-up pass, plus the scheduler's first, immediate one: all within a few seconds.
    await waitFor(() => passes.length >= 3, 10_000);
    const queue = new Queue(QUEUE_RECONCILE, { connection, prefix });
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => ({ key: s.key, every: s.every }))).toEqual([{ key: "reconcile-machines", every: everyMs }]);
    await queue.close();
    await Promise.all([first.close(), second.close()]);
    expect(passes.every((ms) => ms < 10_000)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it("runs again every `everyMs`, and a failed pass does not stop the next", async () => {
    const prefix = `${redis.prefix}:b`;
    let passes = 0;
    const reconciler = startReconciler({
      connection,
      prefix,
      everyMs: 300,
      log,
      reconcile: async () => {
        passes++;
        if (passes === 2) throw new Error("EC2 is throttling");
      },
    });
    await waitFor(() => passes >= 4, 15_000);
    await reconciler.close();
    await reconciler.close();
    expect(warnings).toContainEqual(expect.objectContaining({ err: "EC2 is throttling" }));
  });
});
