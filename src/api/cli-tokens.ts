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
  /** When it stops working (ms since the epoch); null: never (asked for with `never`). */
  expiresAt: number | null;
  /** True for a token made before tokens expired: `expiresAt` is {@link LEGACY_TOKEN_LIFETIME_MS} after its creation. */
  expiryImplied?: true;
  /** When a request last carried it, to within {@link LAST_USED_GRANULARITY_MS}; absent when never used. */
  lastUsedAt?: number;
}

/** How stale `lastUsedAt` may be: a busy CLI writes it at most this often, not on every request. */
export const LAST_USED_GRANULARITY_MS = 60_000;

const DAY_MS = 24 * 3600_000;

/**
 * The lifetime given to tokens made before expiry (and user ids) were kept: they act by login, which a
 * rename can hand to someone else, so they must not live forever. The same as a new token's default.
 */
export const LEGACY_TOKEN_LIFETIME_MS = 90 * DAY_MS;

/**
 * How long an expired token is kept (listed as expired, refused with "expired on ...") before its
 * records are deleted: by a Redis TTL on its record, and from its user's list when that is read.
 */
export const EXPIRED_TOKEN_GRACE_MS = 30 * DAY_MS;

/** How a token is asked for: its label and when it expires (null: never). */
export interface CliTokenRequest {
  label: string;
  expiresAt: number | null;
}

/**
 * Tokens made before labels and expiry were kept lack those fields: no label, and an implied expiry
 * {@link LEGACY_TOKEN_LIFETIME_MS} after creation (`expiresAt` absent, not null: `never` is stored as null).
 */
const TokenRecord = z
  .object({
    id: z.string(),
    login: z.string(),
    userId: z.number().int().optional(),
    createdAt: z.number(),
    label: z.string().default(""),
    expiresAt: z.number().nullable().optional(),
    lastUsedAt: z.number().optional(),
  })
  .transform(({ expiresAt, ...r }): CliTokenInfo => (expiresAt === undefined ? { ...r, expiresAt: r.createdAt + LEGACY_TOKEN_LIFETIME_MS, expiryImplied: true } : { ...r, expiresAt }));

/** The index entry of a token in its user's list; `deleteAt` absent on entries made before tokens expired. */
interface IndexEntry {
  hash: string;
  createdAt: number;
  deleteAt?: number | null;
}

/** When the token's records go (ms since the epoch), {@link EXPIRED_TOKEN_GRACE_MS} after it expires; null: never. */
function deleteAtOf(expiresAt: number | null): number | null {
  return expiresAt === null ? null : expiresAt + EXPIRED_TOKEN_GRACE_MS;
}

/** An index entry's deletion time; entries made before tokens expired belong to tokens with the implied lifetime. */
function entryDeleteAt(entry: IndexEntry): number | null {
  return entry.deleteAt === undefined ? deleteAtOf(entry.createdAt + LEGACY_TOKEN_LIFETIME_MS) : entry.deleteAt;
}

function hashOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Personal CLI tokens of GitHub users, stored hashed (SHA-256 of 32 random bytes: no need for a slow
 * hash). `{prefix}:cli-token:{hash}` -> the token's record; `{prefix}:cli-tokens:{login}` -> hash of
 * id -> token hash, for listing and revoking. A token acts as its user: what it may do is the user's
 * permission on GitHub at the time of each request, so it holds no GitHub credential of its own.
 * An expired token's record expires in Redis {@link EXPIRED_TOKEN_GRACE_MS} later; its entry in the
 * user's list goes when the list is next read (or with the whole list, whose TTL is its last token's).
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
    const deleteAt = deleteAtOf(info.expiresAt);
    const listKey = this.userKeys(user)[0];
    const entry: IndexEntry = { hash, createdAt: info.createdAt, deleteAt };
    const record = JSON.stringify(info);
    const tx = this.redis.multi();
    if (deleteAt === null) tx.set(this.tokenKey(hash), record);
    else tx.set(this.tokenKey(hash), record, "PXAT", deleteAt);
    await tx.hset(listKey, info.id, JSON.stringify(entry)).exec();
    await this.expireList(listKey);
    return { token, info };
  }

  /**
   * Gives the user's list the TTL of its longest-lived token, so a user who never comes back leaves no
   * list behind; a list holding a token that never expires is kept.
   */
  private async expireList(listKey: string): Promise<void> {
    const times = Object.values(await this.redis.hgetall(listKey)).map((raw) => entryDeleteAt(JSON.parse(raw) as IndexEntry));
    if (times.length === 0) return;
    if (times.includes(null)) await this.redis.persist(listKey);
    else await this.redis.pexpireat(listKey, Math.max(...times.map((t) => t ?? 0)));
  }

  /** Deletes a token's record and its entry in its user's list (the list it was made in). */
  private async remove(info: CliTokenInfo, hash: string): Promise<void> {
    const listKey = this.userKeys({ login: info.login, id: info.userId })[0];
    await this.redis.multi().del(this.tokenKey(hash)).hdel(listKey, info.id).exec();
  }

  /**
   * The token's record and whether it has expired, or undefined for a token that was never issued, was
   * revoked, or expired more than {@link EXPIRED_TOKEN_GRACE_MS} ago (its records are then deleted). An
   * expired token's record is kept that long so that the caller can say it expired rather than "never
   * existed". A valid token's use is recorded (see {@link LAST_USED_GRANULARITY_MS}).
   */
  async verify(token: string): Promise<{ info: CliTokenInfo; expired: boolean } | undefined> {
    if (!token.startsWith(CLI_TOKEN_PREFIX) || token.length > 200) return undefined;
    const hash = hashOf(token);
    const key = this.tokenKey(hash);
    const raw = await this.redis.get(key);
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as Record<string, unknown>;
    const parsed = TokenRecord.safeParse(stored);
    if (!parsed.success) return undefined;
    const info = parsed.data;
    const now = this.now();
    const deleteAt = deleteAtOf(info.expiresAt);
    if (deleteAt !== null && deleteAt <= now) {
      await this.remove(info, hash);
      return undefined;
    }
    if (info.expiresAt !== null && info.expiresAt <= now) return { info, expired: true };
    if (info.lastUsedAt === undefined || now - info.lastUsedAt >= LAST_USED_GRANULARITY_MS) {
      // XX: only while it exists, so a revocation between the read and this write is never undone.
      // The stored fields as they were (an implied expiry stays implied), with the record's TTL set again.
      const updated = JSON.stringify({ ...stored, lastUsedAt: now });
      await (deleteAt === null ? this.redis.set(key, updated, "KEEPTTL", "XX") : this.redis.set(key, updated, "PXAT", deleteAt, "XX"));
    }
    return { info, expired: false };
  }

  /**
   * The user's tokens, newest first. Entries whose token is past its grace (or whose record Redis
   * already expired) are deleted here, so the list never names a token that no longer exists.
   */
  async list(user: GitHubIdentity): Promise<CliTokenInfo[]> {
    const keys = this.userKeys(user);
    const lists = await Promise.all(keys.map((key) => this.redis.hgetall(key)));
    const entries = lists.flatMap((all, k) => Object.entries(all).map(([id, raw]) => ({ id, listKey: keys[k] ?? keys[0], ...(JSON.parse(raw) as IndexEntry) })));
    // Label, expiry and last use live in each token's record, where verifying reads and updates them.
    const records = entries.length === 0 ? [] : await this.redis.mget(entries.map((e) => this.tokenKey(e.hash)));
    const now = this.now();
    const kept: CliTokenInfo[] = [];
    const gone: typeof entries = [];
    entries.forEach((e, i) => {
      const raw = records[i] ?? null;
      const record = raw === null ? undefined : TokenRecord.safeParse(JSON.parse(raw));
      const info: CliTokenInfo = record?.success === true ? record.data : { id: e.id, login: user.login, userId: user.id, createdAt: e.createdAt, label: "", expiresAt: null };
      const deleteAt = record?.success === true ? deleteAtOf(info.expiresAt) : entryDeleteAt(e);
      if (raw === null || (deleteAt !== null && deleteAt <= now)) gone.push(e);
      else kept.push(info);
    });
    if (gone.length > 0) {
      const tx = this.redis.multi();
      for (const e of gone) tx.del(this.tokenKey(e.hash)).hdel(e.listKey, e.id);
      await tx.exec();
    }
    // Lists written before they had a TTL (a login's list of tokens made before ids were kept) get theirs here.
    await Promise.all(keys.map((key) => this.expireList(key)));
    return kept.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
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
