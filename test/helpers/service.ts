import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { ProbotOctokit } from "probot";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { startService, type Service, type ServiceOverrides } from "../../src/service.js";
import type { GitHubDouble } from "./github-double.js";
import { freePort } from "./redis.js";
import { TEST_PRIVATE_KEY } from "./test-keys.js";

export const WEBHOOK_SECRET = "test-webhook-secret";

/** Probot's Octokit without retries and throttling (the function form: see TECH-NOTES). */
export const TestOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o,
  retry: { enabled: false },
  throttle: { enabled: false },
})) as typeof ProbotOctokit;

export interface TestService extends Service {
  config: Config;
  dataDir: string;
  /** Every log line the service wrote (JSON), for assertions that secrets never appear. */
  logLines: string[];
  webhookUrl: string;
  stop(): Promise<void>;
}

/** Starts the whole service (web + workers + local backend) against a test Redis and the GitHub double. */
export async function startTestService(options: {
  redisUrl: string;
  prefix: string;
  github?: GitHubDouble;
  env?: Record<string, string>;
  dataDir?: string;
  overrides?: ServiceOverrides;
}): Promise<TestService> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "dstack-test-")));
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    DSTACK_PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: "127.0.0.1",
    REDIS_URL: options.redisUrl,
    DSTACK_DATA_DIR: dataDir,
    LOG_LEVEL: "info",
    ...(options.github !== undefined
      ? { APP_ID: String(options.github.appId), PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET, GHE_HOST: options.github.host, GHE_PROTOCOL: "http" }
      : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(...chunk.toString().split("\n").filter((l) => l !== ""));
      cb();
    },
  });
  const log: Logger = createLogger({ level: config.logLevel, destination: sink });
  const service = await startService(config, log, {
    prefix: options.prefix,
    Octokit: TestOctokit,
    reaperIntervalMs: 1000,
    supervise: { publishIntervalMs: 1000, pollMs: 200 },
    heartbeatSeconds: 1,
    // Like TestOctokit without throttling: budgets out of the way of tests that do not measure them
    // (back-off windows after a rate-limit answer stay on). test/github/github-rate-limits.test.ts sets them.
    githubRate: { limit: 100_000, hourLimit: 1_000_000 },
    ...options.overrides,
  });
  return {
    ...service,
    config,
    dataDir,
    logLines,
    webhookUrl: `${service.url}/api/github/webhooks`,
    async stop() {
      await service.close();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
