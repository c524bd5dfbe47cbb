import type { Redis } from "ioredis";
import type { Probot } from "probot";
import type { GitHubConfig } from "../config.js";
import { splitRepo, statusOf, type GitHubClient } from "../github/client.js";
import type { Logger } from "../logger.js";
import { CliTokens } from "./cli-tokens.js";
import type { GitHubLogin } from "./github-login.js";
import { GitHubSessions } from "./github-sessions.js";
import { createUserAccess, type UserAccess } from "./user-access.js";

/**
 * Builds "Sign in with GitHub" from the configuration: sessions and CLI tokens in Redis, users'
 * permissions (their own token, or the app's installation for CLI tokens), and the OAuth routes' deps.
 */
export function createGitHubUsers(deps: {
  github: GitHubConfig;
  oauth: { clientId: string; clientSecret: string };
  probot: Probot;
  redis: Redis;
  prefix: string;
  secretsKey: Buffer;
  publicUrl: string;
  log: Pick<Logger, "info" | "warn">;
}): { users: UserAccess; login: GitHubLogin } {
  const sessions = new GitHubSessions({ redis: deps.redis, prefix: deps.prefix, secretsKey: deps.secretsKey });
  const users = createUserAccess({
    redis: deps.redis,
    prefix: deps.prefix,
    sessions,
    cliTokens: new CliTokens({ redis: deps.redis, prefix: deps.prefix }),
    apiBaseUrl: deps.github.apiBaseUrl,
    installationFor: (repo) => installationFor(deps.probot, repo),
  });
  const client = { webUrl: deps.github.webUrl, apiBaseUrl: deps.github.apiBaseUrl, clientId: deps.oauth.clientId, clientSecret: deps.oauth.clientSecret };
  return { users, login: { client, sessions, redis: deps.redis, prefix: deps.prefix, publicUrl: deps.publicUrl, log: deps.log } };
}

/** The app's installation on `repo` (asked as the app), or undefined when the app is not installed there. */
async function installationFor(probot: Probot, repo: string): Promise<GitHubClient | undefined> {
  const { owner, repo: name } = splitRepo(repo);
  const app = (await probot.auth()) as unknown as GitHubClient;
  let id: number;
  try {
    id = ((await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo: name })).data as { id: number }).id;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  return (await probot.auth(id)) as unknown as GitHubClient;
}
