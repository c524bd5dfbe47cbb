import type { Redis } from "ioredis";
import { DEFAULT_RATE_LIMIT_WINDOW_MS } from "./retry-delay.js";

/**
 * GitHub's secondary rate limits for content-creating requests, per installation, as its docs state
 * them (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits):
 * at most 80 a minute and 500 an hour. GitHub also advises "wait at least one second between each
 * request" that POSTs, PATCHes, PUTs or DELETEs; the gate does not space requests, because spacing made
 * a command wait 2 s for its check run whenever other runs were publishing (spine bench: 2.0 s against
 * a 1 s target), and the budgets plus the back-off windows are what GitHub enforces.
 * Every option scales for tests; production keeps the defaults.
 */
export interface RateGateOptions {
  /** Content-creating requests per installation within `windowMs`. Defaults: 80 per 60000 ms. */
  limit?: number;
  windowMs?: number;
  /** The longer budget. Defaults: 500 per 3600000 ms. */
  hourLimit?: number;
  hourWindowMs?: number;
  /**
   * Added to both windows: a request is counted when the gate lets it go, and reaches GitHub a little
   * later, by an amount that varies (a token refresh, a busy event loop). Default: 1000.
   */
  marginMs?: number;
  /**
   * Share of `limit` that low-priority requests (log-tail updates, which are skipped instead of
   * waiting) may not use, so conclusions and comments always find room. Default: 0.25.
   */
  reservedShare?: number;
  /** Back-off after a rate-limit answer that names no time. Default: 60000 (GitHub: "at least one minute"). */
  defaultBackoffMs?: number;
}

export type RequestPriority = "high" | "low";

/**
 * One atomic step on Redis, on Redis's clock (so processes with skewed clocks agree): the time
 * left in the installation's back-off window, else for a content-creating request the wait until
 * the budgets allow one more, else 0 after counting this request in.
 * KEYS: back-off key, sent-requests sorted set. ARGV: write (0/1), limit, window, hour limit,
 * hour window, a unique member suffix.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > now then return untilMs - now end
if ARGV[1] == '0' then return 0 end
local limit, win = tonumber(ARGV[2]), tonumber(ARGV[3])
local hourLimit, hourWin = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - hourWin)
local function waitFor(cap, w)
  local n = redis.call('ZCOUNT', KEYS[2], '(' .. (now - w), '+inf')
  if n < cap then return 0 end
  local first = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - w), '+inf', 'WITHSCORES', 'LIMIT', n - cap, 1)
  return math.max(1, tonumber(first[2]) + w - now)
end
local wait = math.max(waitFor(limit, win), waitFor(hourLimit, hourWin))
if wait > 0 then return wait end
redis.call('ZADD', KEYS[2], now, now .. ':' .. ARGV[6])
redis.call('PEXPIRE', KEYS[2], hourWin)
return 0
`;

/** Sets the back-off window's end to now + ARGV[1] ms unless it already ends later. */
const BACKOFF_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilMs then return current - now end
redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]))
return tonumber(ARGV[1])
`;

/**
 * The per-installation gate in front of GitHub, shared by every service process through Redis:
 * a sliding-window budget for content-creating requests, and a back-off window, opened when GitHub
 * answers with a rate limit, during which no process sends that installation anything.
 */
export class GitHubRateGate {
  readonly defaultBackoffMs: number;
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly hourLimit: number;
  private readonly hourWindowMs: number;
  private readonly reserved: number;
  private seq = 0;
  private readonly tag = Math.random().toString(36).slice(2, 10);

  constructor(
    private readonly deps: { redis: Redis; prefix: string },
    options: RateGateOptions = {},
  ) {
    const margin = options.marginMs ?? 1000;
    this.limit = options.limit ?? 80;
    this.windowMs = (options.windowMs ?? 60_000) + margin;
    this.hourLimit = options.hourLimit ?? 500;
    this.hourWindowMs = (options.hourWindowMs ?? 3_600_000) + margin;
    this.reserved = Math.floor(this.limit * (options.reservedShare ?? 0.25));
    this.defaultBackoffMs = options.defaultBackoffMs ?? DEFAULT_RATE_LIMIT_WINDOW_MS;
  }

  private keys(installationId: number): [string, string] {
    const base = `${this.deps.prefix}:github:installation:${installationId}`;
    return [`${base}:backoff`, `${base}:writes`];
  }

  /**
   * 0 when a request may go now (a content-creating one is counted in), else how many ms to wait.
   * A low-priority request may not use the reserved share of the minute's budget.
   */
  async take(installationId: number, request: { write: boolean; priority: RequestPriority }): Promise<number> {
    const limit = request.priority === "low" ? this.limit - this.reserved : this.limit;
    const hourLimit = request.priority === "low" ? this.hourLimit - Math.floor(this.hourLimit / 4) : this.hourLimit;
    this.seq += 1;
    const wait = await this.deps.redis.eval(
      TAKE_SCRIPT,
      2,
      ...this.keys(installationId),
      request.write ? "1" : "0",
      limit,
      this.windowMs,
      hourLimit,
      this.hourWindowMs,
      `${this.tag}:${this.seq}`,
    );
    return Number(wait);
  }

  /** Opens (or extends) the installation's back-off window to `ms` from now; returns the time left in it. */
  async backOff(installationId: number, ms: number): Promise<number> {
    const [backoffKey] = this.keys(installationId);
    return Number(await this.deps.redis.eval(BACKOFF_SCRIPT, 1, backoffKey, Math.max(1, Math.ceil(ms))));
  }
}
