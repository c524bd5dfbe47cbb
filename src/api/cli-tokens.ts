import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";

/** Personal CLI tokens start with this, so the API tells them from the service's API token without a lookup. */
export const CLI_TOKEN_PREFIX = "dstack_u_";

/** A user's token as listed: never the token itself, which is shown once at creation. */
export interface CliTokenInfo {
  id: string;
  login: string;
  createdAt: number;
}

const TokenRecord = z.object({ id: z.string(), login: z.string(), createdAt: z.number() });

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

  private userKey(login: string): string {
    return `${this.prefix}:cli-tokens:${login.toLowerCase()}`;
  }

  private tokenKey(hash: string): string {
    return `${this.prefix}:cli-token:${hash}`;
  }

  /** A new token for `login`: returned once, kept only as a hash. */
  async create(login: string): Promise<{ token: string; info: CliTokenInfo }> {
    const token = `${CLI_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const info: CliTokenInfo = { id: randomBytes(6).toString("hex"), login, createdAt: this.now() };
    const hash = hashOf(token);
    await this.redis.multi().set(this.tokenKey(hash), JSON.stringify(info)).hset(this.userKey(login), info.id, JSON.stringify({ hash, createdAt: info.createdAt })).exec();
    return { token, info };
  }

  /** The token's owner, or undefined for a token that was never issued or was revoked. */
  async verify(token: string): Promise<CliTokenInfo | undefined> {
    if (!token.startsWith(CLI_TOKEN_PREFIX) || token.length > 200) return undefined;
    const raw = await this.redis.get(this.tokenKey(hashOf(token)));
    if (raw === null) return undefined;
    const parsed = TokenRecord.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  }

  /** The user's tokens, newest first. */
  async list(login: string): Promise<CliTokenInfo[]> {
    const all = await this.redis.hgetall(this.userKey(login));
    return Object.entries(all)
      .map(([id, raw]) => ({ id, login, createdAt: (JSON.parse(raw) as { createdAt: number }).createdAt }))
      .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
  }

  /** Revokes one of the user's tokens; false when the user has no token of that id. */
  async revoke(login: string, id: string): Promise<boolean> {
    const raw = await this.redis.hget(this.userKey(login), id);
    if (raw === null) return false;
    const { hash } = JSON.parse(raw) as { hash: string };
    await this.redis.multi().del(this.tokenKey(hash)).hdel(this.userKey(login), id).exec();
    return true;
  }
}
