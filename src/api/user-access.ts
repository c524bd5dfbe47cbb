import type { Redis } from "ioredis";
import { DstackError, UnauthorizedError } from "../errors.js";
import { splitRepo, type GitHubClient } from "../github/client.js";
import { PERMISSION_CACHE_SECONDS, permissionCacheKey, permissionOf, type Permission } from "../github/permissions.js";
import type { CliTokens } from "./cli-tokens.js";
import { userHeaders } from "./github-oauth.js";
import type { GitHubSessions } from "./github-sessions.js";

/**
 * Someone signed in with GitHub: in the browser (a session holding their token) or through a personal
 * CLI token. `userId` is GitHub's numeric id, which stays with the account when the login is renamed
 * (absent for sessions and tokens made before it was kept: those are keyed by login, as before).
 */
export type GitHubUser = { login: string; userId?: number } & ({ via: "session"; sessionId: string; token: string } | { via: "cli-token"; tokenId: string });

/** Sign-in with GitHub: the users' sessions, their CLI tokens, and what they may do on each repository. */
export interface UserAccess {
  sessions: GitHubSessions;
  cliTokens: CliTokens;
  /** The user's permission on `repo` on GitHub, cached for {@link PERMISSION_CACHE_SECONDS}. */
  permission(user: GitHubUser, repo: string): Promise<Permission>;
}

export interface UserAccessDeps {
  redis: Redis;
  prefix: string;
  sessions: GitHubSessions;
  cliTokens: CliTokens;
  /** REST API base (GitHub Enterprise: `{protocol}://{host}/api/v3`). */
  apiBaseUrl: string;
  /** The app's installation on `repo`, or undefined when the app is not installed there. */
  installationFor(repo: string): Promise<GitHubClient | undefined>;
  fetch?: typeof fetch;
}

/** GitHub's `permissions` object of a repository fetched with a user token, as a role. */
function roleOf(p: { admin?: boolean; maintain?: boolean; push?: boolean; triage?: boolean; pull?: boolean } | undefined): Permission {
  if (p === undefined) return "none";
  if (p.admin === true) return "admin";
  if (p.maintain === true) return "maintain";
  if (p.push === true) return "write";
  if (p.triage === true) return "triage";
  return p.pull === true ? "read" : "none";
}

/**
 * `GET /repos/{owner}/{repo}` with the user's own token: GitHub answers 404 for a repository they
 * cannot see (through this app), else the repository with their `permissions`.
 */
async function permissionWithUserToken(deps: UserAccessDeps, token: string, repo: string): Promise<Permission> {
  const { owner, repo: name } = splitRepo(repo);
  const res = await (deps.fetch ?? fetch)(`${deps.apiBaseUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`, { headers: userHeaders(token) });
  if (res.status === 401) throw new UnauthorizedError("your GitHub sign-in has expired or was revoked; sign in again");
  if (res.status === 404) return "none";
  if (!res.ok) throw new DstackError("unavailable", `GitHub answered ${res.status} when asked about ${repo}; try again`);
  return roleOf(((await res.json()) as { permissions?: Parameters<typeof roleOf>[0] }).permissions);
}

/**
 * Permissions of GitHub users: browser sessions ask GitHub with the user's token; CLI tokens, which
 * hold no GitHub credential, ask the collaborator permission API as the app's installation. Both
 * share one short cache per user and repository, which comment commands use too.
 */
export function createUserAccess(deps: UserAccessDeps): UserAccess {
  return {
    sessions: deps.sessions,
    cliTokens: deps.cliTokens,
    async permission(user, repo) {
      const key = permissionCacheKey(deps.prefix, repo, { login: user.login, id: user.userId });
      const cached = await deps.redis.get(key);
      if (cached !== null) return cached as Permission;
      if (user.via === "cli-token") {
        const github = await deps.installationFor(repo);
        if (github === undefined) return "none";
        const { owner, repo: name } = splitRepo(repo);
        return permissionOf({ github, redis: deps.redis, prefix: deps.prefix }, { owner, repo: name, user: user.login, userId: user.userId });
      }
      const permission = await permissionWithUserToken(deps, user.token, repo);
      await deps.redis.set(key, permission, "EX", PERMISSION_CACHE_SECONDS);
      return permission;
    },
  };
}
