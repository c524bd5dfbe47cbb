import { describe, expect, it } from "@jest/globals";
import { InvalidInputError, DstackError } from "../../src/errors.js";
import { githubRetryDelayMs, MAX_RETRY_DELAY_MS } from "../../src/github/retry-delay.js";

/** An Octokit RequestError's shape: status plus response headers. */
function requestError(status: number, headers: Record<string, string> = {}, message = "failed"): Error {
  return Object.assign(new Error(message), { status, response: { headers } });
}

describe("githubRetryDelayMs", () => {
  it("retries 5xx and network errors with a doubling backoff, capped", () => {
    expect(githubRetryDelayMs(requestError(502), 1)).toBe(1000);
    expect(githubRetryDelayMs(requestError(500), 3)).toBe(4000);
    expect(githubRetryDelayMs(new Error("ECONNRESET"), 2)).toBe(2000);
    expect(githubRetryDelayMs(requestError(503), 20)).toBe(MAX_RETRY_DELAY_MS);
  });

  it("waits as long as a secondary rate limit's retry-after says (403 or 429)", () => {
    expect(githubRetryDelayMs(requestError(403, { "retry-after": "7" }), 1)).toBe(7000);
    expect(githubRetryDelayMs(requestError(429, { "Retry-After": "2" }), 5)).toBe(2000);
    expect(githubRetryDelayMs(requestError(403, {}, "You have exceeded a secondary rate limit"), 1)).toBe(MAX_RETRY_DELAY_MS);
    expect(githubRetryDelayMs(requestError(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010" }), 1, () => 1_000_000)).toBe(10_000);
  });

  it("does not retry what cannot succeed: 404, 422, a plain 403, a user's mistake", () => {
    expect(githubRetryDelayMs(requestError(404), 1)).toBeUndefined();
    expect(githubRetryDelayMs(requestError(422), 1)).toBeUndefined();
    expect(githubRetryDelayMs(requestError(403, {}, "Resource not accessible by integration"), 1)).toBeUndefined();
    expect(githubRetryDelayMs(new InvalidInputError("bad"), 1)).toBeUndefined();
    expect(githubRetryDelayMs(new DstackError("unavailable", "later"), 1)).toBe(1000);
  });

  it("looks inside Probot's AggregateError for a transient cause", () => {
    expect(githubRetryDelayMs(new AggregateError([requestError(404), requestError(500)]), 1)).toBe(1000);
    expect(githubRetryDelayMs(new AggregateError([requestError(404)]), 1)).toBeUndefined();
  });
});
