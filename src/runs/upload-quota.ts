import type { Redis } from "ioredis";

/**
 * KEYS[1]: a hash of `f:<path>` -> the bytes that file holds, and `total` -> their sum.
 * ARGV: field, bytes (-1: all that is left, up to the cap), limit, ttl seconds, cap, force ("1": set
 * whatever the total, to give back what a failed upload held).
 * Returns {granted, others, held}: granted is -1 when the total would pass the limit; `others` is what
 * the other files hold, `held` what this one held before. A file sent again replaces what it held before, so a retry is not counted twice.
 */
const HOLD_LUA = `
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local others = tonumber(redis.call('HGET', KEYS[1], 'total') or '0') - held
local limit = tonumber(ARGV[3])
local bytes = tonumber(ARGV[2])
if bytes < 0 then bytes = math.min(tonumber(ARGV[5]), limit - others) end
if ARGV[6] ~= '1' and (bytes < 0 or others + bytes > limit) then return {-1, string.format('%d', others), string.format('%d', held)} end
if bytes > 0 then redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', bytes)) else redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1], 'total', string.format('%d', others + bytes))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {string.format('%d', bytes), string.format('%d', others), string.format('%d', held)}
`;

export interface UploadQuotaDeps {
  redis: Redis;
  /** The hash of one run's artifacts (or one attempt's checkpoint set). */
  key: string;
  /** The most all its files may hold together. */
  limitBytes: number;
  /** How long the count outlives its last upload: longer than a run may last. */
  ttlSeconds: number;
}

/** Bytes held for one file while it uploads; `settle` keeps what was stored, `release` gives back what it held before. */
export interface UploadHold {
  /** What this upload may send: the declared length, or all the limits leave for a chunked body. */
  grantedBytes: number;
  /** What the other files hold. */
  othersBytes: number;
  settle(storedBytes: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * Holds `bytes` (undefined: as much as is left, at most `capBytes`) for the file `path` against the
 * total of its run, atomically, so that uploads sent at once cannot together pass the limit. Returns
 * `{ othersBytes }` alone when the file does not fit.
 */
export async function holdUploadBytes(
  deps: UploadQuotaDeps,
  input: { path: string; bytes: number | undefined; capBytes: number },
): Promise<UploadHold | { othersBytes: number; grantedBytes?: undefined }> {
  const field = `f:${input.path}`;
  const set = async (bytes: number, force: boolean) => {
    const reply = (await deps.redis.eval(HOLD_LUA, 1, deps.key, field, String(bytes), String(deps.limitBytes), String(deps.ttlSeconds), String(input.capBytes), force ? "1" : "0")) as Array<number | string>;
    return { granted: Number(reply[0]), others: Number(reply[1]), held: Number(reply[2]) };
  };
  const { granted, others, held: before } = await set(input.bytes ?? -1, false);
  if (granted < 0 || (input.bytes === undefined && granted === 0)) return { othersBytes: others };
  return {
    grantedBytes: granted,
    othersBytes: others,
    settle: async (storedBytes) => void (await set(storedBytes, true)),
    release: async () => void (await set(before, true)),
  };
}
