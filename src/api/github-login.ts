import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { UnauthorizedError } from "../errors.js";
import type { RequestContext, Router } from "../http/router.js";
import type { Logger } from "../logger.js";
import { render } from "../render.js";
import { authorizeUrl, exchangeCode, fetchUser, newAuthorization, type GitHubOAuthClient } from "./github-oauth.js";
import { GITHUB_SESSION_PREFIX, type GitHubSession, type GitHubSessions } from "./github-sessions.js";
import { safeNext, sendHtml } from "./page-response.js";
import { cookie, safeEqual, sessionCookie } from "./session.js";

export interface GitHubLogin {
  client: GitHubOAuthClient;
  sessions: GitHubSessions;
  redis: Redis;
  prefix: string;
  /** Where GitHub sends the browser back: `{publicUrl}/login/github/callback`. */
  publicUrl: string;
  log: Pick<Logger, "info" | "warn">;
}

/** Binds the OAuth `state` to the browser that started the sign-in. */
const STATE_COOKIE = "dstack_oauth";
/** How long a started sign-in may take at GitHub. */
const STATE_SECONDS = 600;

function stateKey(prefix: string, state: string): string {
  return `${prefix}:oauth:${createHash("sha256").update(state).digest("hex")}`;
}

/**
 * "Sign in with GitHub": the GitHub App's user authorization (OAuth web flow with PKCE). `GET
 * /login/github` sends the browser to GitHub with a random `state`, which is also set in a
 * short-lived cookie and kept in Redis with the PKCE verifier and where to go afterwards; the
 * callback checks the returned state against the cookie, uses it once, trades the code for the
 * user's token (sending the verifier), asks `GET /user` who they are and starts a server-side session.
 */
export function mountGitHubLogin(router: Router, deps: GitHubLogin): void {
  const redirectUri = `${deps.publicUrl}/login/github/callback`;
  const secure = deps.publicUrl.startsWith("https:") ? "; Secure" : "";
  // SameSite=Lax, not Strict: the browser must send it on GitHub's redirect back, a top-level GET
  // from another site. Path-scoped to the callback.
  const stateCookie = (value: string, maxAge: number) => `${STATE_COOKIE}=${value}; Max-Age=${maxAge}; Path=/login/github; HttpOnly; SameSite=Lax${secure}`;

  router.add("GET", "/login/github", async (ctx) => {
    const next = safeNext(ctx.url.searchParams.get("next"));
    const auth = newAuthorization();
    await deps.redis.set(stateKey(deps.prefix, auth.state), JSON.stringify({ verifier: auth.verifier, next }), "EX", STATE_SECONDS);
    ctx.res.writeHead(303, {
      location: authorizeUrl(deps.client, { redirectUri, state: auth.state, challenge: auth.challenge }),
      "set-cookie": stateCookie(auth.state, STATE_SECONDS),
      "cache-control": "no-store",
    });
    ctx.res.end();
  });

  router.add("GET", "/login/github/callback", async (ctx) => {
    const q = ctx.url.searchParams;
    const state = q.get("state") ?? "";
    const expected = cookie(ctx.req, STATE_COOKIE) ?? "";
    if (q.get("error") !== null) return refuse(ctx, 401, `GitHub did not sign you in (${(q.get("error_description") ?? q.get("error") ?? "").slice(0, 200)}).`);
    if (state === "" || expected === "" || !safeEqual(state, expected)) {
      return refuse(ctx, 400, "This sign-in could not be verified (it was not started in this browser, or took too long). Start again.");
    }
    const started = await deps.redis.getdel(stateKey(deps.prefix, state));
    if (started === null) return refuse(ctx, 400, "This sign-in expired or was already used. Start again.");
    const { verifier, next } = JSON.parse(started) as { verifier: string; next: string };
    let session: GitHubSession;
    try {
      const token = await exchangeCode(deps.client, { code: q.get("code") ?? "", redirectUri, verifier });
      const user = await fetchUser(deps.client, token.accessToken);
      session = await deps.sessions.create({ login: user.login, userId: user.id, token: token.accessToken, expiresInSeconds: token.expiresInSeconds });
    } catch (err) {
      if (err instanceof UnauthorizedError) return refuse(ctx, 401, err.message);
      throw err;
    }
    deps.log.info({ login: session.login }, "signed in with GitHub");
    const maxAge = Math.max(1, Math.floor((session.expiresAt - Date.now()) / 1000));
    // A 200 page that moves on by itself rather than a redirect: this response ends a navigation
    // that GitHub (another site) started, and browsers do not send SameSite=Strict cookies on the
    // rest of such a redirect chain; a navigation this page starts is same-site. No inline script
    // (the CSP forbids it): a meta refresh, with a link for browsers that ignore it.
    ctx.res.setHeader("set-cookie", [sessionCookie(`${GITHUB_SESSION_PREFIX}${session.id}`, maxAge, deps.publicUrl), stateCookie("", 0)]);
    sendHtml(ctx, 200, render("signed-in.html", { next: safeNext(next), login: session.login }));
  });

  function refuse(ctx: RequestContext, status: number, error: string): void {
    ctx.res.setHeader("set-cookie", stateCookie("", 0));
    sendHtml(ctx, status, render("login.html", { next: "/", error, githubUrl: "/login/github" }));
  }
}
