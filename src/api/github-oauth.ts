import { createHash, randomBytes } from "node:crypto";
import { DstackError, UnauthorizedError } from "../errors.js";

/** Where GitHub (or GitHub Enterprise) serves the OAuth pages and the REST API, and the app's OAuth client. */
export interface GitHubOAuthClient {
  /** `https://github.com` or `{GHE_PROTOCOL}://{GHE_HOST}`. */
  webUrl: string;
  /** `https://api.github.com` or `{GHE_PROTOCOL}://{GHE_HOST}/api/v3`. */
  apiBaseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
}

/** A fresh OAuth `state` and PKCE verifier with its S256 challenge (RFC 7636 §4.1-4.2). */
export function newAuthorization(): { state: string; verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { state: randomBytes(24).toString("base64url"), verifier, challenge: pkceChallenge(verifier) };
}

export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

/** GitHub's page where the user approves the app: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app */
export function authorizeUrl(client: GitHubOAuthClient, input: { redirectUri: string; state: string; challenge: string }): string {
  const q = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: input.redirectUri,
    state: input.state,
    code_challenge: input.challenge,
    code_challenge_method: "S256",
  });
  return `${client.webUrl}/login/oauth/authorize?${q.toString()}`;
}

/** A user access token; `expiresInSeconds` is absent when the app does not expire user tokens. */
export interface UserToken {
  accessToken: string;
  expiresInSeconds?: number;
}

/**
 * Trades the callback's `code` for the user's token. GitHub answers a refused exchange with 200 and
 * `{error, error_description}`, so the body decides, not the status.
 */
export async function exchangeCode(client: GitHubOAuthClient, input: { code: string; redirectUri: string; verifier: string }): Promise<UserToken> {
  const res = await (client.fetch ?? fetch)(`${client.webUrl}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      code: input.code,
      redirect_uri: input.redirectUri,
      code_verifier: input.verifier,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (!res.ok || typeof body.access_token !== "string") {
    const why = typeof body.error_description === "string" ? body.error_description : typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
    throw new UnauthorizedError(`GitHub refused the sign-in (${why}); try again`);
  }
  return { accessToken: body.access_token, ...(typeof body.expires_in === "number" && body.expires_in > 0 ? { expiresInSeconds: body.expires_in } : {}) };
}

/** `GET /user` with the user's token: who signed in. */
export async function fetchUser(client: GitHubOAuthClient, token: string): Promise<{ login: string; id: number }> {
  const res = await (client.fetch ?? fetch)(`${client.apiBaseUrl}/user`, { headers: userHeaders(token) });
  if (!res.ok) throw new UnauthorizedError(`GitHub did not accept the new sign-in (HTTP ${res.status}); try again`);
  const body = (await res.json()) as { login?: unknown; id?: unknown };
  if (typeof body.login !== "string" || typeof body.id !== "number") throw new DstackError("unavailable", "GitHub's GET /user answered without a login");
  return { login: body.login, id: body.id };
}

export function userHeaders(token: string): Record<string, string> {
  return { accept: "application/vnd.github+json", authorization: `Bearer ${token}`, "x-github-api-version": "2022-11-28" };
}
