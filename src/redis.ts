import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "./errors.js";
import type { Logger } from "./logger.js";

/** Options every connection of ours uses; BullMQ workers require `maxRetriesPerRequest: null`. */
export const REDIS_OPTIONS: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };

export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { ...REDIS_OPTIONS, ...options });
}

/** Resolves true when a Redis server answers PING at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on("error", () => {
    /* reported by the rejected connect below */
  });
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Refuses a Redis that may evict keys under memory pressure: queued jobs and run state would
 * vanish (BullMQ requires `maxmemory-policy noeviction`). Reads `INFO memory`, which managed
 * Redis services allow where `CONFIG GET` is disabled; when Redis cannot be asked, start-up goes
 * on (the health check reports Redis).
 */
export async function assertNoEviction(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  client.on("error", () => {
    /* an unreachable Redis is reported elsewhere */
  });
  let policy: string | undefined;
  try {
    await client.connect();
    policy = /maxmemory_policy:(\S+)/.exec(await client.info("memory"))?.[1];
  } catch {
    return;
  } finally {
    client.disconnect();
  }
  if (policy !== undefined && policy !== "noeviction") {
    throw new ConfigError(
      `Redis at ${redact(url)} uses maxmemory-policy ${policy}, which may evict queued jobs and runs: set \`maxmemory-policy noeviction\` (redis.conf or CONFIG SET)`,
    );
  }
}

export interface EmbeddedRedis {
  url: string;
  close(): Promise<void>;
}

/**
 * Makes sure Redis answers at `url`. When nothing does and the URL is local, starts `redis-server`
 * from PATH with its data under `dataDir` (append-only file on, so a restart loses nothing).
 * Throws a one-line `ConfigError` saying how to get Redis when it cannot.
 */
export async function ensureRedis(
  deps: { log: Pick<Logger, "info" | "warn"> },
  input: { url: string; dataDir: string },
): Promise<EmbeddedRedis | undefined> {
  if (await redisAnswers(input.url)) return undefined;
  const parsed = new URL(input.url);
  const local = ["127.0.0.1", "localhost", "::1", "[::1]"].includes(parsed.hostname);
  if (!local) {
    throw new ConfigError(`Redis at ${redact(input.url)} does not answer; check REDIS_URL`);
  }
  const dir = path.join(input.dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = parsed.port === "" ? "6379" : parsed.port;
  let child: ChildProcess;
  try {
    child = await spawnRedis(["--port", port, "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--maxmemory-policy", "noeviction"]);
  } catch {
    throw new ConfigError(
      `no Redis answers at ${redact(input.url)} and redis-server is not installed: install it (apt-get install redis-server, brew install redis) or set REDIS_URL`,
    );
  }
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(input.url, 500)) {
      deps.log.info({ port, dir }, "started an embedded redis-server (set REDIS_URL to use your own)");
      return {
        url: input.url,
        close: () => stopChild(child),
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  throw new ConfigError(`redis-server was started on port ${port} but does not answer; see ${dir}`);
}

function spawnRedis(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn("redis-server", args, { stdio: "ignore" });
    child.once("error", reject);
    child.once("spawn", () => resolve(child));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Hides the password of a Redis URL for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable REDIS_URL)";
  }
}
