import type { ServerResponse } from "node:http";
import { UnauthorizedError } from "../errors.js";
import { bearerToken, sendJson, type RequestContext } from "../http/router.js";
import { render } from "../render.js";
import type { UserAccess } from "./user-access.js";
import { bearerPrincipal, sessionPrincipal, type ApiAuth, type Principal } from "./v1/api-auth.js";

/**
 * Headers of every page: scripts and styles only from this service (no inline script, so an
 * injected `<script>` or `onerror=` never runs even if escaping failed), no framing, no sniffing.
 */
export const PAGE_SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
  "cache-control": "no-store",
} as const;

export function sendHtml(ctx: Pick<RequestContext, "res">, status: number, html: string): void {
  ctx.res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html), ...PAGE_SECURITY_HEADERS });
  ctx.res.end(html);
}

const ERROR_TITLES: Record<number, string> = { 400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Conflict" };

/**
 * The router's error page for browsers (`Router`'s `errorPage`): a run link that is wrong or gone shows
 * the reason on a page of this service rather than `{"code":"not_found",...}`.
 */
export function sendErrorPage(res: ServerResponse, status: number, message: string): void {
  const title = ERROR_TITLES[status] ?? (status >= 500 ? "Something went wrong" : "Error");
  sendHtml({ res }, status, render("error.html", { title, message }));
}

/** What the pages need to know who is signed in. */
export interface PageAuth {
  apiToken: string;
  signingKey: Buffer;
  /** "Sign in with GitHub" (absent: the API token is the only identity). */
  users?: UserAccess;
}

export function pageApiAuth(deps: PageAuth, nowMs: number): ApiAuth {
  return { apiToken: deps.apiToken, sessionKey: deps.signingKey, ...(deps.users !== undefined ? { users: deps.users } : {}), now: () => nowMs };
}

/**
 * Who is signed in (session cookie, or the API token or a CLI token as a Bearer header), else
 * undefined after a redirect to the sign-in page (or 401 for non-browsers).
 */
export async function requireUser(deps: PageAuth, ctx: RequestContext, nowMs: number): Promise<Principal | undefined> {
  const auth = pageApiAuth(deps, nowMs);
  const token = bearerToken(ctx.req);
  const principal =
    token !== undefined
      ? await bearerPrincipal(auth, token).catch((err: unknown) => {
          if (err instanceof UnauthorizedError) return undefined;
          throw err;
        })
      : await sessionPrincipal(auth, ctx.req);
  if (principal !== undefined) return principal;
  if ((ctx.req.headers.accept ?? "").includes("text/html")) {
    ctx.res.writeHead(303, { location: `/login?next=${encodeURIComponent(ctx.url.pathname + ctx.url.search)}`, ...PAGE_SECURITY_HEADERS });
    ctx.res.end();
  } else {
    sendJson(ctx.res, 401, { code: "unauthorized", message: "sign in, or send the API token as a Bearer header" });
  }
  return undefined;
}

/** `2026-11-30 07:59:11 UTC`: one unambiguous form on every page. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined ? "" : `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** Any origin: `safeNext` only asks whether a path stays on it. */
const NEXT_BASE = "https://dstack.invalid";

/**
 * Only same-site relative paths: an open redirect after sign-in would be a phishing tool. Control
 * characters are refused too: browsers drop tabs and line breaks from a URL before parsing it, so
 * `/\t/evil.example` would go to `//evil.example`; the WHATWG parser (the browsers' own) has the last word.
 */
export function safeNext(next: string | null): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (next === null || !/^\/(?![/\\])[^\\\u0000-\u001f\u007f]*$/.test(next)) return "/";
  return new URL(next, NEXT_BASE).origin === NEXT_BASE ? next : "/";
}
