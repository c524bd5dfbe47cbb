import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "@jest/globals";
import { createS3RetryStrategy, type S3RetryEvent } from "../../src/artifacts/s3-retry-strategy.js";

type ErrorInfo = Parameters<ReturnType<typeof createS3RetryStrategy>["refreshRetryTokenForRetry"]>[1];

/** What the SDK's retry middleware hands the strategy (its SdkError type is @smithy's, not the client's class). */
function failed(errorType: ErrorInfo["errorType"], error?: Error, retryAfterHint?: Date): ErrorInfo {
  return { errorType, error: error as unknown as ErrorInfo["error"], ...(retryAfterHint !== undefined ? { retryAfterHint } : {}) };
}

/** The S3 client's retry policy on its own, with a fake clock and dice: which errors, how long, when it stops. */
describe("createS3RetryStrategy", () => {
  const s3Error = (name: string, status: number) =>
    new S3ServiceException({ name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, message: name });
  const slowDown = s3Error("SlowDown", 503);

  it("backs off exponentially with full jitter, capped, and reports each retry", async () => {
    let now = 0;
    const events: S3RetryEvent[] = [];
    const strategy = createS3RetryStrategy({ baseDelayMs: 100, maxDelayMs: 1000, maxRetryMs: 60_000, random: () => 1, now: () => now, onRetry: (e) => events.push(e) });
    let token = await strategy.acquireInitialRetryToken("");
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      token = await strategy.refreshRetryTokenForRetry(token, failed("THROTTLING", slowDown));
      delays.push(token.getRetryDelay());
      now += token.getRetryDelay();
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(token.getRetryCount()).toBe(6);
    expect(events.map((e) => [e.attempt, e.error])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, "SlowDown"]));
    const jittered = createS3RetryStrategy({ baseDelayMs: 100, random: () => 0.25, now: () => 0 });
    expect((await jittered.refreshRetryTokenForRetry(await jittered.acquireInitialRetryToken(""), failed("TRANSIENT"))).getRetryDelay()).toBe(25);
  });

  it("stops once the next wait would pass maxRetryMs after the first try", async () => {
    let now = 0;
    const strategy = createS3RetryStrategy({ baseDelayMs: 1000, maxDelayMs: 1000, maxRetryMs: 2500, random: () => 1, now: () => now });
    let token = await strategy.acquireInitialRetryToken("");
    token = await strategy.refreshRetryTokenForRetry(token, failed("SERVER_ERROR", slowDown));
    now = 1000;
    token = await strategy.refreshRetryTokenForRetry(token, failed("SERVER_ERROR", slowDown));
    now = 2000;
    await expect(strategy.refreshRetryTokenForRetry(token, failed("SERVER_ERROR", slowDown))).rejects.toBe(slowDown);
  });

  it("never retries a client error (403, 404, a bad request)", async () => {
    const denied = s3Error("AccessDenied", 403);
    const strategy = createS3RetryStrategy();
    await expect(strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(""), failed("CLIENT_ERROR", denied))).rejects.toBe(denied);
  });

  it("waits at least as long as a Retry-After hint asks, within the cap", async () => {
    const strategy = createS3RetryStrategy({ baseDelayMs: 100, maxDelayMs: 5000, random: () => 0, now: () => 10_000 });
    const token = await strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(""), failed("THROTTLING", undefined, new Date(13_000)));
    expect(token.getRetryDelay()).toBe(3000);
  });
});
