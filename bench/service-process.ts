import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startService } from "../src/service.js";
import { TestOctokit } from "../test/helpers/service.js";

/**
 * The service as its own process, for benchmarks that measure its throughput and memory apart
 * from the load generator: `startService` from the environment, with the test Octokit (no retries
 * against the local GitHub double), the given Redis prefix, agent environment and secrets.
 * GitHub's rate budgets are raised out of the way (the gate's own tests cover them).
 * BENCH_PREFIX, BENCH_AGENT_ENV (JSON object), BENCH_SECRETS (JSON object) configure it; it prints
 * `ready <port>` on stdout and stops on SIGTERM.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel, destination: process.stderr });
  const secrets = JSON.parse(process.env.BENCH_SECRETS ?? "{}") as Record<string, string>;
  const service = await startService(config, log, {
    prefix: process.env.BENCH_PREFIX ?? "bench",
    Octokit: TestOctokit,
    agentEnv: JSON.parse(process.env.BENCH_AGENT_ENV ?? "{}") as Record<string, string>,
    secrets: { forRun: async () => secrets },
    supervise: { publishIntervalMs: 1000, pollMs: 100 },
    reaperIntervalMs: 1000,
    // The benches measure the service's own path, many commands a minute on one installation: with
    // GitHub's budget (80 content-creating requests a minute) the spine bench's 17th command waited
    // for its check run. The gate itself is tested in test/github/github-rate-limits.test.ts.
    githubRate: { limit: 100_000, hourLimit: 100_000 },
  });
  process.stdout.write(`ready ${service.port}\n`);
  process.once("SIGTERM", () => {
    void service.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`service-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
