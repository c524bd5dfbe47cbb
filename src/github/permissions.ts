import type { Redis } from "ioredis";
import { statusOf, type GitHubClient } from "./client.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

/** How long a looked-up permission is trusted (a revoked writer can act for at most this long). */
export const PERMISSION_CACHE_SECONDS = 60;

/** Where a user's permission on a repository is cached (shared with the web pages' permission checks). */
export function permissionCacheKey(prefix: string, repo: string, user: string): string {
  return `${prefix}:perm:${repo}:${user.toLowerCase()}`;
}

/**
 * The commenter's permission on the repository, from GitHub's collaborator permission API,
 * cached briefly in Redis. A user who is not a collaborator (404) has `none`.
 */
export async function permissionOf(
  deps: { github: GitHubClient; redis: Redis; prefix: string },
  input: { owner: string; repo: string; user: string },
): Promise<Permission> {
  const key = permissionCacheKey(deps.prefix, `${input.owner}/${input.repo}`, input.user);
  const cached = await deps.redis.get(key);
  if (cached !== null) return cached as Permission;
  let permission: Permission;
  try {
    const res = await deps.github.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner: input.owner,
      repo: input.repo,
      username: input.user,
    });
    const data = res.data as { permission?: string; role_name?: string };
    // `permission` folds maintain into write and triage into read; role_name keeps them.
    const role = data.role_name ?? data.permission ?? "none";
    permission = (["admin", "maintain", "write", "triage", "read"].includes(role) ? role : (data.permission ?? "none")) as Permission;
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
