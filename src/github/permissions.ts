import type { Redis } from "ioredis";
import { statusOf, type GitHubClient } from "./client.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

/** How long a looked-up permission is trusted (a revoked writer can act for at most this long). */
export const PERMISSION_CACHE_SECONDS = 60;

/**
 * A GitHub user: `login` names them (and asks the API), `id` is who they are. A login can be renamed
 * and then registered by someone else; the numeric id never moves. `id` is absent only in records
 * made before ids were kept (they are read as before, by login).
 */
export interface GitHubIdentity {
  login: string;
  id?: number;
}

/**
 * The part of a Redis key that names a user: `#{id}`, or the lower-cased login for records without
 * an id. `#` cannot occur in a login, so the two kinds never meet.
 */
export function identityKey(user: GitHubIdentity): string {
  return user.id === undefined ? user.login.toLowerCase() : `#${user.id}`;
}

/**
 * Where a user's permission on a repository is cached (shared with the web pages' permission
 * checks): by numeric id, so a login renamed and registered again by someone else never reads the
 * old owner's answer.
 */
export function permissionCacheKey(prefix: string, repo: string, user: GitHubIdentity): string {
  return `${prefix}:perm:${repo}:${identityKey(user)}`;
}

/**
 * The commenter's permission on the repository, from GitHub's collaborator permission API,
 * cached briefly in Redis. A user who is not a collaborator (404) has `none`. The API takes a
 * login; with `userId` the answer counts only if it is about that account (its `user.id`): a login
 * renamed since the event and taken by someone else has `none` for the event's user.
 */
export async function permissionOf(
  deps: { github: GitHubClient; redis: Redis; prefix: string },
  input: { owner: string; repo: string; user: string; userId?: number },
): Promise<Permission> {
  const key = permissionCacheKey(deps.prefix, `${input.owner}/${input.repo}`, { login: input.user, id: input.userId });
  const cached = await deps.redis.get(key);
  if (cached !== null) return cached as Permission;
  let permission: Permission;
  try {
    const res = await deps.github.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner: input.owner,
      repo: input.repo,
      username: input.user,
    });
    const data = res.data as { permission?: string; role_name?: string; user?: { id?: number } | null };
    // `permission` folds maintain into write and triage into read; role_name keeps them.
    const role = data.role_name ?? data.permission ?? "none";
    permission = (["admin", "maintain", "write", "triage", "read"].includes(role) ? role : (data.permission ?? "none")) as Permission;
    if (input.userId !== undefined && data.user?.id !== input.userId) permission = "none";
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    permission = "none";
  }
  await deps.redis.set(key, permission, "EX", PERMISSION_CACHE_SECONDS);
  return permission;
}

export function canWrite(p: Permission): boolean {
  return p === "admin" || p === "maintain" || p === "write";
}
