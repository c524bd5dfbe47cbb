import type { IncomingMessage } from "node:http";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../errors.js";
import type { Permission } from "../../github/permissions.js";
import { bearerToken, type Handler, type RequestContext } from "../../http/router.js";
import type { RunStore } from "../../runs/run-store.js";
import type { Run } from "../../runs/types.js";
import { CLI_TOKEN_PREFIX } from "../cli-tokens.js";
import { GITHUB_SESSION_PREFIX } from "../github-sessions.js";
import { cookie, safeEqual, SESSION_COOKIE, validSession } from "../session.js";
import type { GitHubUser, UserAccess } from "../user-access.js";

/**
 * Who may call the API: the API token as a Bearer header and, when `sessionKey` is given, the web
 * pages' session cookie (see {@link sessionAllowed}); with `users`, also people who signed in with
 * GitHub (session cookie) and their personal CLI tokens (Bearer), limited to their GitHub permissions.
 */
export interface ApiAuth {
  apiToken: string;
  /** The key that signs session cookies; absent: the API takes the Bearer token only. */
  sessionKey?: Buffer;
  /** "Sign in with GitHub" (GITHUB_CLIENT_ID/SECRET); absent: the API token is the only identity. */
  users?: UserAccess;
  now?(): number;
}

/**
 * Who is calling: the service's API token (or a browser signed in with it) may do everything, as a
 * single team's shared key; a GitHub user may do what their permission on each repository allows.
 */
export type Principal = { kind: "service" } | ({ kind: "github" } & GitHubUser);

/** What an action needs: read (see runs, logs, artifacts), write (run, stop, re-run, tag), admin (secrets). */
export type Need = "read" | "write" | "admin";

const RANK: Record<Permission, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };
const NEEDED: Record<Need, number> = { read: 1, write: 3, admin: 5 };
const WHAT_NEEDS: Record<Exclude<Need, "read">, string> = {
  write: "starting, stopping, re-running and tagging runs need write, maintain or admin permission on GitHub",
  admin: "the repository's secrets need admin permission on GitHub",
};

/** Principals of requests that passed {@link requireApiToken}, for the handlers' permission checks. */
const principals = new WeakMap<IncomingMessage, Principal>();

/** The header the pages' scripts send on every state-changing API call (see {@link sessionAllowed}). */
export const CSRF_HEADER = "x-dstack-csrf";

/**
 * The session cookie is SameSite=Strict, so no other site's request carries it. Belt and braces for
 * state-changing methods: they also need {@link CSRF_HEADER}, a custom header that a cross-origin
 * page can send only after a CORS preflight this service never approves; and a browser that says
 * the request is cross-site (`Sec-Fetch-Site`) is refused outright.
 */
function sessionAllowed(auth: ApiAuth, req: IncomingMessage): boolean {
  if (auth.sessionKey === undefined) return false;
  if (crossSite(req)) return false;
  const safe = req.method === "GET" || req.method === "HEAD";
  return safe || req.headers[CSRF_HEADER] === "1";
}

/** The browser says another site started this request (`Sec-Fetch-Site`, sent by every current browser). */
export function crossSite(req: IncomingMessage): boolean {
  return req.headers["sec-fetch-site"] === "cross-site";
}

/**
 * The principal of a session cookie: `{expires}.{hmac}` is a browser signed in with the API token,
 * `g.{id}` a GitHub user's server-side session (src/api/github-sessions.ts).
 */
export async function sessionPrincipal(auth: ApiAuth, req: IncomingMessage): Promise<Principal | undefined> {
  const value = cookie(req, SESSION_COOKIE);
  if (value === undefined || auth.sessionKey === undefined) return undefined;
  if (value.startsWith(GITHUB_SESSION_PREFIX)) {
    const session = await auth.users?.sessions.find(value.slice(GITHUB_SESSION_PREFIX.length));
    return session === undefined ? undefined : { kind: "github", via: "session", login: session.login, userId: session.userId, sessionId: session.id, token: session.token };
  }
  return validSession(auth.sessionKey, auth.apiToken, value, (auth.now ?? Date.now)()) ? { kind: "service" } : undefined;
}

/** The principal of a Bearer token: the API token, or a GitHub user's personal CLI token. */
export async function bearerPrincipal(auth: ApiAuth, token: string): Promise<Principal> {
  if (safeEqual(token, auth.apiToken)) return { kind: "service" };
  if (auth.users !== undefined && token.startsWith(CLI_TOKEN_PREFIX)) {
    const found = await auth.users.cliTokens.verify(token);
    if (found?.expired === true) {
      const { info } = found;
      throw new UnauthorizedError(
        `this personal CLI token (${info.label === "" ? info.id : `"${info.label}", ${info.id}`}) expired on ${utcMinute(info.expiresAt ?? 0)}; ` +
          "create a new one on the service's settings page (/settings) and store it with `dstack config --token`",
      );
    }
    if (found !== undefined) return { kind: "github", via: "cli-token", login: found.info.login, userId: found.info.userId, tokenId: found.info.id };
    throw new UnauthorizedError("this personal CLI token was revoked or never existed; create a new one on the service's settings page");
  }
  throw new UnauthorizedError("the API token is not valid for this service; check DSTACK_TOKEN or `dstack config`");
}

/** `2026-03-01 12:00 UTC`. */
function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * Wraps a handler so it runs only for requests carrying the API token (`DSTACK_API_TOKEN`) or a
 * personal CLI token as a `Bearer` header, compared in constant time, or (pages) a valid session
 * cookie. The handler then checks the caller's permission with {@link requireRepo} / {@link requireRun}.
 */
export function requireApiToken(auth: ApiAuth, handler: Handler): Handler {
  return async (ctx: RequestContext) => {
    const token = bearerToken(ctx.req);
    let principal: Principal | undefined;
    if (token !== undefined) principal = await bearerPrincipal(auth, token);
    else if (auth.sessionKey !== undefined && cookie(ctx.req, SESSION_COOKIE) !== undefined) {
      if (!sessionAllowed(auth, ctx.req)) throw new UnauthorizedError(`a signed-in browser changes things only from this service's own pages (same site, with the ${CSRF_HEADER} header)`);
      principal = await sessionPrincipal(auth, ctx.req);
      if (principal === undefined) throw new UnauthorizedError("your session has ended (signed out or expired); sign in again");
    }
    if (principal === undefined) throw new UnauthorizedError("this API needs the service's API token as `Authorization: Bearer <token>` (DSTACK_API_TOKEN)");
    principals.set(ctx.req, principal);
    return handler(ctx);
  };
}

/** The caller of a request that passed {@link requireApiToken}. */
export function principalOf(ctx: RequestContext): Principal {
  const principal = principals.get(ctx.req);
  if (principal === undefined) throw new UnauthorizedError("sign in first");
  return principal;
}

/** The principal's permission on `repo`: everything for the API token, the user's GitHub permission otherwise. */
export async function permissionOn(auth: ApiAuth, principal: Principal, repo: string): Promise<Permission> {
  if (principal.kind === "service") return "admin";
  if (auth.users === undefined) return "none";
  return auth.users.permission(principal, repo);
}

export function allows(permission: Permission, need: Need): boolean {
  return RANK[permission] >= NEEDED[need];
}

/**
 * Refuses a caller who may not `need` on `repo`: 404 (as if it did not exist) when they cannot even
 * read it, 403 naming what is missing when they can read it but not do this.
 */
export async function requireRepo(auth: ApiAuth, principal: Principal, repo: string, need: Need, notFound = `${repo} is not a repository you can read`): Promise<Permission> {
  const permission = await permissionOn(auth, principal, repo);
  if (!allows(permission, "read")) throw new NotFoundError(notFound);
  if (need !== "read" && !allows(permission, need)) {
    const who = principal.kind === "github" ? `@${principal.login}` : "you";
    throw new ForbiddenError(`${who} may not do this on ${repo}: ${WHAT_NEEDS[need]} (you have ${permission})`);
  }
  return permission;
}

/** The run, if the caller may `need` on its repository; a run of a repository they cannot read does not exist for them. */
export async function requireRun(auth: ApiAuth & { store: Pick<RunStore, "find"> }, principal: Principal, id: string, need: Need): Promise<{ run: Run; permission: Permission }> {
  const run = await auth.store.find(id);
  const missing = `run ${JSON.stringify(id)} does not exist`;
  if (run === undefined) throw new NotFoundError(missing);
  return { run, permission: await requireRepo(auth, principal, run.repo, need, missing) };
}

/**
 * Memoises {@link permissionOn} over one request: a listing checks each repository once.
 */
export function repoFilter(auth: ApiAuth, principal: Principal, need: Need = "read"): (repo: string) => Promise<boolean> {
  const seen = new Map<string, Promise<boolean>>();
  return (repo) => {
    let p = seen.get(repo);
    if (p === undefined) {
      p = principal.kind === "service" ? Promise.resolve(true) : permissionOn(auth, principal, repo).then((perm) => allows(perm, need));
      seen.set(repo, p);
    }
    return p;
  };
}
