import { setTimeout as delay } from "node:timers/promises";
import { GitHubBackoffError, GitHubWaitAbortedError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { GitHubClient, GitHubResponse } from "./client.js";
import type { GitHubRateGate, RequestPriority } from "./rate-gate.js";
import { rateLimitWindowMs } from "./retry-delay.js";

/** GitHub counts these as content-creating when they create or change something (check runs, comments, reactions). */
const CONTENT_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);

export interface RateLimitedClientOptions {
  gate: GitHubRateGate;
  installationId: number;
  log?: Pick<Logger, "warn" | "info">;
  /**
   * Longest wait in this call for the gate; past it the call throws `GitHubBackoffError` and the
   * caller's retry (a BullMQ backoff, the supervisor's loop) waits instead, without holding a
   * worker's slot for an hour-long window. Default: 60000.
   */
  maxWaitMs?: number;
  /**
   * Aborted when the service shuts down: a wait for the gate ends at once and the call throws
   * `GitHubWaitAbortedError`, so `close()` does not sit out a back-off window (up to `maxWaitMs`)
   * holding the worker's jobs. Requests that need no wait still go.
   */
  signal?: AbortSignal;
}

function isContentCreating(route: string): boolean {
  const method = /^([A-Z]+) /.exec(route)?.[1] ?? "GET";
  return CONTENT_METHODS.has(method);
}

/**
 * `inner` behind the installation's shared gate: no request while its back-off window is open,
 * content-creating ones within the budget, and a rate-limit answer opens the window for every
 * process (and rejects with `GitHubBackoffError`, the original answer as its `cause`). `requestIfFree` is for updates that a later one supersedes (log tails): it sends only
 * when it would not wait, and resolves `undefined` when skipped.
 */
export function rateLimitedClient(inner: GitHubClient, options: RateLimitedClientOptions): GitHubClient {
  const { gate, installationId } = options;
  const maxWaitMs = options.maxWaitMs ?? 60_000;

  /** Sleeps `waitMs`, or throws `GitHubWaitAbortedError` as soon as the service shuts down. */
  async function waitForGate(route: string, waitMs: number): Promise<void> {
    const startedAt = Date.now();
    // Says why a check run or reply is late (and lets tests see a request waiting, instead of guessing).
    options.log?.info({ installationId, route, waitMs }, "waiting for the GitHub rate gate");
    try {
      await delay(waitMs, undefined, { signal: options.signal });
    } catch (err) {
      if (options.signal?.aborted !== true) throw err;
      throw new GitHubWaitAbortedError(installationId, route, Math.max(0, waitMs - (Date.now() - startedAt)));
    }
  }

  async function send(route: string, params: Record<string, unknown> | undefined, priority: RequestPriority): Promise<GitHubResponse | undefined> {
    const write = isContentCreating(route);
    let waitedMs = 0;
    for (;;) {
      const wait = await gate.take(installationId, { write, priority });
      if (wait === 0) break;
      if (priority === "low") return undefined;
      if (waitedMs + wait > maxWaitMs) throw new GitHubBackoffError(installationId, wait);
      await waitForGate(route, wait);
      waitedMs += wait;
    }
    try {
      return await inner.request(route, params);
    } catch (err) {
      const windowMs = rateLimitWindowMs(err, Date.now, gate.defaultBackoffMs);
      if (windowMs === undefined) throw err;
      const left = await gate.backOff(installationId, windowMs);
      options.log?.warn({ installationId, route, windowMs: left }, "GitHub rate limit: no request to this installation until the window ends");
      // The caller's retry then waits out the shared window, whatever GitHub's answer said.
      throw new GitHubBackoffError(installationId, left, { cause: err });
    }
  }

  return {
    request: async (route, params) => (await send(route, params, "high")) as GitHubResponse,
    requestIfFree: (route, params) => send(route, params, "low"),
  };
}
