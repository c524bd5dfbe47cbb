import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { Sealer } from "./seal.js";

/** A session of a user who signed in with GitHub; `token` (their GitHub token) never leaves the server. */
export interface GitHubSession {
  /** The cookie's secret part; the store keeps only its hash. */
  id: string;
  login: string;
  /** GitHub's numeric user id: who signed in, whatever their login becomes. Absent in sessions made before it was kept. */
  userId?: number;
  token: string;
  expiresAt: number;
}

/** The longest a GitHub session lasts: GitHub's own lifetime of an expiring user token (8 hours). */
export const GITHUB_SESSION_SECONDS = 8 * 3600;
/** Session cookie values of GitHub users start with this; API-token sessions are `{expires}.{hmac}`. */
export const GITHUB_SESSION_PREFIX = "g.";

const SessionRecord = z.object({ login: z.string(), userId: z.number().int().optional(), token: z.string(), createdAt: z.number(), expiresAt: z.number() });

function hashOf(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/**
 * Sessions of GitHub-signed-in users in Redis: `{prefix}:session:{sha256(id)}` holds the login and the
 * user's GitHub token sealed under the secrets key (src/api/seal.ts), expiring with the token (at
 * most {@link GITHUB_SESSION_SECONDS}). A Redis dump holds neither usable cookies nor tokens.
 */
export class GitHubSessions {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly sealer: Sealer;
  private readonly now: () => number;

  constructor(deps: { redis: Redis; prefix: string; secretsKey: Buffer; now?: () => number }) {
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.sealer = new Sealer(deps.secretsKey, "github user token");
    this.now = deps.now ?? Date.now;
  }

  private key(id: string): string {
    return `${this.prefix}:session:${hashOf(id)}`;
  }

  async create(input: { login: string; userId?: number; token: string; expiresInSeconds?: number }): Promise<GitHubSession> {
    const id = randomBytes(32).toString("base64url");
    const seconds = Math.min(input.expiresInSeconds ?? GITHUB_SESSION_SECONDS, GITHUB_SESSION_SECONDS);
    const createdAt = this.now();
    const expiresAt = createdAt + seconds * 1000;
    const record = { login: input.login, userId: input.userId, token: this.sealer.seal(input.token, hashOf(id)), createdAt, expiresAt };
    await this.redis.set(this.key(id), JSON.stringify(record), "PX", seconds * 1000);
    return { id, login: input.login, userId: input.userId, token: input.token, expiresAt };
  }

  /** The live session of this id, or undefined (unknown, expired, or its token no longer opens). */
  async find(id: string): Promise<GitHubSession | undefined> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return undefined;
    const raw = await this.redis.get(this.key(id));
    if (raw === null) return undefined;
    const parsed = SessionRecord.safeParse(JSON.parse(raw));
    if (!parsed.success || parsed.data.expiresAt <= this.now()) return undefined;
    const token = this.sealer.open(parsed.data.token, hashOf(id));
    const { login, userId, expiresAt } = parsed.data;
    return token === undefined ? undefined : { id, login, userId, token, expiresAt };
  }

  /** Signing out ends the session on the server, not only in the browser. */
  async delete(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
