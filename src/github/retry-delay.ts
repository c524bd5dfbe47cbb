import { DstackError, GitHubBackoffError } from "../errors.js";

/** Longest wait between two tries of one GitHub request (a minute-long outage is ridden out). */
export const MAX_RETRY_DELAY_MS = 60_000;
/** First wait after a transient failure; it doubles with each try. */
export const BASE_RETRY_DELAY_MS = 1_000;

/**
 * How long to wait before trying again after `err` (attempt 1 = the first retry), or `undefined`
 * when trying again cannot help (a 404, a 422, a user's mistake). Transient: network errors, 5xx,
 * 429, and GitHub's secondary rate limit (403 with `retry-after`, or a "rate limit" message), whose
 * `retry-after` / `x-ratelimit-reset` is honoured.
 * https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
 */
export function githubRetryDelayMs(err: unknown, attempt: number, now: () => number = Date.now): number | undefined {
  const cause = unwrap(err);
  const backoff = Math.min(MAX_RETRY_DELAY_MS, BASE_RETRY_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  if (cause instanceof GitHubBackoffError) return Math.max(cause.retryAfterMs, 250);
  if (cause instanceof DstackError) return cause.code === "unavailable" ? backoff : undefined;
  const status = statusField(cause);
  if (status === undefined) return cause instanceof Error ? backoff : undefined; // network error, Redis hiccup
  if (status >= 500 || status === 408) return backoff;
  const headers = headersOf(cause);
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(messageOf(cause))));
  if (!rateLimited) return undefined;
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return Math.min(MAX_RETRY_DELAY_MS, Math.max(retryAfter * 1000, 250));
  const reset = Number(headers["x-ratelimit-reset"]);
  if (Number.isFinite(reset) && reset > 0) return Math.min(MAX_RETRY_DELAY_MS, Math.max(reset * 1000 - now(), 1000));
  return MAX_RETRY_DELAY_MS; // GitHub asks for at least a minute when it names no time
}

/** GitHub's rule when a rate-limit answer names no time: wait at least a minute. */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * How long nothing may be sent to the installation after `err`, when `err` is GitHub saying that a
 * rate limit was hit (429, or 403 with `retry-after`, `x-ratelimit-remaining: 0` or a "rate limit"
 * message); `undefined` otherwise. As GitHub's docs say: `retry-after` seconds if given; else, when
 * `x-ratelimit-remaining` is 0, until `x-ratelimit-reset`; else at least `defaultMs` (one minute).
 * https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
 */
export function rateLimitWindowMs(err: unknown, now: () => number = Date.now, defaultMs = DEFAULT_RATE_LIMIT_WINDOW_MS): number | undefined {
  const status = statusField(err);
  const headers = headersOf(err);
  const limited =
    status === 429 ||
    (status === 403 && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(messageOf(err))));
  if (!limited) return undefined;
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  const reset = Number(headers["x-ratelimit-reset"]);
  if (headers["x-ratelimit-remaining"] === "0" && Number.isFinite(reset) && reset > 0) return Math.max(reset * 1000 - now(), 1000);
  return defaultMs;
}

/**
 * The error that matters: Probot's `receive` rejects with an AggregateError of the handlers' errors.
 * With several, the first transient one decides (a retry re-runs the handler; its steps are idempotent).
 */
function unwrap(err: unknown): unknown {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner: unknown[] = err.errors;
    return inner.find((e) => githubRetryDelayMs(e, 1) !== undefined) ?? inner[0];
  }
  return err;
}

function statusField(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("status" in err)) return undefined;
  const status = (err as { status: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

function headersOf(err: unknown): Record<string, string | undefined> {
  const response = typeof err === "object" && err !== null && "response" in err ? (err as { response: unknown }).response : undefined;
  const headers = typeof response === "object" && response !== null && "headers" in response ? (response as { headers: unknown }).headers : undefined;
  if (typeof headers !== "object" || headers === null) return {};
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v === undefined || v === null ? undefined : String(v);
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : "";
}
