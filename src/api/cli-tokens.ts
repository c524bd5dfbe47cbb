import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { identityKey, type GitHubIdentity } from "../github/permissions.js";

/** Personal CLI tokens start with this, so the API tells them from the service's API token without a lookup. */
export const CLI_TOKEN_PREFIX = "dstack_u_";

/** A user's token as listed: never the token itself, which is shown once at creation. */
export interface CliTokenInfo {
  id: string;
  login: string;
  /** The owner's GitHub user id (the login may be renamed and taken by someone else); absent on tokens made before it was kept. */
  userId?: number;
  createdAt: number;
  /** What the user called it (the machine it is for, say); "" on tokens made before labels were kept. */
  label: string;
  /** When it stops working (ms since the epoch); null: never (asked for, or made before tokens expired). */
  expiresAt: number | null;
  /** When a request last carried it, to within {@link LAST_USED_GRANULARITY_MS}; absent when never used. */
  lastUsedAt?: number;
}

/** How stale `lastUsedAt` may be: a busy CLI writes it at most this often, not on every request. */
export const LAST_USED_GRANULARITY_MS = 60_000;

/** How a token is asked for: its label and when it expires (null: never). */
export interface CliTokenRequest {
  label: string;
  expiresAt: number | null;
}

/** Tokens made before labels and expiry were kept lack those fields: they stay valid, with no expiry. */
const TokenRecord = z
  .object({
    id: z.string(),
    login: z.string(),
    userId: z.number().int().optional(),
    createdAt: z.number(),
    label: z.string().default(""),
    expiresAt: z.number().nullable().default(null),
    lastUsedAt: z.number().optional(),
  })
  .transform((r): CliTokenInfo => r);

function hashOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Personal CLI tokens of GitHub users, stored hashed (SHA-256 of 32 random bytes: no need for a slow
 * hash). `{prefix}:cli-token:{hash}` -> the token's record; `{prefix}:cli-tokens:{login}` -> hash of
 * id -> token hash, for listing and revoking. A token acts as its user: what it may do is the user's
 * permission on GitHub at the time of each request, so it holds no GitHub credential of its own.
 */
export class CliTokens {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(deps: { redis: Redis; prefix: string; now?: () => number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.now = deps.now ?? Date.now;
  }

  /**
   * Where the user's tokens are listed: by user id, so the next owner of a renamed login never sees
   * or revokes them; then, read as before, the login's list of tokens made before ids were kept.
   */
  private userKeys(user: GitHubIdentity): [string, ...string[]] {
    const byLogin = `${this.prefix}:cli-tokens:${user.login.toLowerCase()}`;
    return user.id === undefined ? [byLogin] : [`${this.prefix}:cli-tokens:${identityKey(user)}`, byLogin];
  }

  private tokenKey(hash: string): string {
    return `${this.prefix}:cli-token:${hash}`;
  }

  /** A new token for `user`: returned once, kept only as a hash. */
  async create(user: GitHubIdentity, request: CliTokenRequest): Promise<{ token: string; info: CliTokenInfo }> {
    const token = `${CLI_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const info: CliTokenInfo = { id: randomBytes(6).toString("hex"), login: user.login, userId: user.id, createdAt: this.now(), label: request.label, expiresAt: request.expiresAt };
    const hash = hashOf(token);
    await this.redis.multi().set(this.tokenKey(hash), JSON.stringify(info)).hset(this.userKeys(user)[0], info.id, JSON.stringify({ hash, createdAt: info.createdAt })).exec();
    return { token, info };
  }

  /**
   * The token's record and whether it has expired, or undefined for a token that was never issued or
   * was revoked. An expired token's record is kept (until revoked) so that the caller can say it expired
   * rather than "never existed". A valid token's use is recorded (see {@link LAST_USED_GRANULARITY_MS}).
   */
  async verify(token: string): Promise<{ info: CliTokenInfo; expired: boolean } | undefined> {
    if (!token.startsWith(CLI_TOKEN_PREFIX) || token.length > 200) return undefined;
    const key = this.tokenKey(hashOf(token));
    const raw = await this.redis.get(key);
    if (raw === null) return undefined;
    const parsed = TokenRecord.safeParse(JSON.parse(raw));
    if (!parsed.success) return undefined;
    const info = parsed.data;
    const now = this.now();
    if (info.expiresAt !== null && info.expiresAt <= now) return { info, expired: true };
    if (info.lastUsedAt === undefined || now - info.lastUsedAt >= LAST_USED_GRANULARITY_MS) {
      // XX: only while it exists, so a revocation between the read and this write is never undone.
      await this.redis.set(key, JSON.stringify({ ...info, lastUsedAt: now }), "XX");
    }
    return { info, expired: false };
  }

  /** The user's tokens, newest first. */
  async list(user: GitHubIdentity): Promise<CliTokenInfo[]> {
    const lists = await Promise.all(this.userKeys(user).map((key) => this.redis.hgetall(key)));
    const entries = lists.flatMap((all) => Object.entries(all)).map(([id, raw]) => ({ id, ...(JSON.parse(raw) as { hash: string; createdAt: number }) }));
    // Label, expiry and last use live in each token's record, where verifying reads and updates them.
    const records = entries.length === 0 ? [] : await this.redis.mget(entries.map((e) => this.tokenKey(e.hash)));
    return entries
      .map((e, i): CliTokenInfo => {
        const record = TokenRecord.safeParse(JSON.parse(records[i] ?? "null"));
        return record.success ? record.data : { id: e.id, login: user.login, userId: user.id, createdAt: e.createdAt, label: "", expiresAt: null };
      })
      .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
  }

  /** Revokes one of the user's tokens; false when the user has no token of that id. */
  async revoke(user: GitHubIdentity, id: string): Promise<boolean> {
    for (const key of this.userKeys(user)) {
      const raw = await this.redis.hget(key, id);
      if (raw === null) continue;
      const { hash } = JSON.parse(raw) as { hash: string };
      await this.redis.multi().del(this.tokenKey(hash)).hdel(key, id).exec();
      return true;
    }
    return false;
  }
}
