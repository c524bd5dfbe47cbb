import { ProbotOctokit } from "probot";

/**
 * Probot's Octokit without its retry and throttling plugins. Their limits live in one process
 * (Bottleneck in memory: three processes would send three times GitHub's budget), the retry plugin
 * retries a 429 inside our back-off window, and on top of `rateLimitedClient` they would throttle
 * twice. Rate limits are kept by the Redis-shared `GitHubRateGate`; transient failures are retried
 * by the callers (BullMQ backoff, the supervisor) with `githubRetryDelayMs`. The function form of
 * `defaults` is needed: Probot 14.3 ignores the object form for these options.
 */
export const AppOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  retry: { enabled: false },
  throttle: { enabled: false },
})) as typeof ProbotOctokit;
