import type { S3ClientConfig } from "@aws-sdk/client-s3";

/** The SDK's token-based retry interface (`RetryStrategyV2` of @smithy/types), taken from the client's config type. */
type RetryStrategyV2 = Extract<NonNullable<S3ClientConfig["retryStrategy"]>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2["acquireInitialRetryToken"]>>;
type RetryErrorInfo = Parameters<RetryStrategyV2["refreshRetryTokenForRetry"]>[1];

export interface S3RetryOptions {
  /**
   * A request is not tried again once this long has passed since its first try (so one S3 request,
   * a part or a small object, gives up within about this time). Default: 120000 (2 minutes).
   */
  maxRetryMs?: number;
  /** Cap of the backoff before jitter, doubling from `baseDelayMs`. Defaults: 200 and 10000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told of each retry before its wait (for logs and figures). */
  onRetry?(event: S3RetryEvent): void;
  /** Default: `Math.random`; `Date.now` for the clock. */
  random?: () => number;
  now?: () => number;
}

export interface S3RetryEvent {
  /** 1 for the first retry of a request. */
  attempt: number;
  delayMs: number;
  errorType: RetryErrorInfo["errorType"];
  /** The SDK's error name (`SlowDown`, `InternalError`, `ECONNRESET` as `code`). */
  error: string;
}

class Token implements RetryToken {
  constructor(
    readonly startedAt: number,
    private readonly count: number,
    private readonly delayMs: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delayMs;
  }
}

/**
 * The S3 client's retry policy: transient failures (5xx, `SlowDown` and other throttling, connection
 * resets and timeouts) are tried again with exponential backoff and full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) until `maxRetryMs`
 * after the first try; client errors (403, 404, a bad request) are not. Unlike the SDK's standard
 * strategy (3 attempts, a shared retry quota) it rides out an outage of a minute or two, which is
 * what an artifact upload at the end of an hours-long run needs. Multipart parts and small objects
 * are buffered by `@aws-sdk/lib-storage`, so every request it sends can be repeated.
 */
export function createS3RetryStrategy(options: S3RetryOptions = {}): RetryStrategyV2 {
  const maxRetryMs = options.maxRetryMs ?? 120_000;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  return {
    async acquireInitialRetryToken(): Promise<RetryToken> {
      return new Token(now(), 0, 0);
    },
    async refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
      const startedAt = token instanceof Token ? token.startedAt : now();
      const attempt = token.getRetryCount() + 1;
      if (info.errorType === "CLIENT_ERROR") throw info.error ?? new Error("S3 refused the request");
      let delayMs = Math.round(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      // S3 rarely sends `Retry-After`; when it does it is a floor, within the same cap.
      if (info.retryAfterHint !== undefined) delayMs = Math.max(delayMs, Math.min(maxDelayMs, info.retryAfterHint.getTime() - now()));
      if (now() + delayMs - startedAt > maxRetryMs) throw info.error ?? new Error("S3 kept failing");
      options.onRetry?.({ attempt, delayMs, errorType: info.errorType, error: errorName(info.error) });
      return new Token(startedAt, attempt, delayMs);
    },
    recordSuccess(): void {
      // Nothing to refill: there is no shared retry quota.
    },
  };
}

function errorName(err: unknown): string {
  if (typeof err !== "object" || err === null) return "Error";
  const code = "code" in err && typeof err.code === "string" ? err.code : undefined;
  const name = "name" in err && typeof err.name === "string" ? err.name : "Error";
  return code ?? name;
}
