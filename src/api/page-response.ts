import { sendJson, type RequestContext } from "../http/router.js";
import { isAuthenticated } from "./session.js";

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

export function sendHtml(ctx: RequestContext, status: number, html: string): void {
  ctx.res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html), ...PAGE_SECURITY_HEADERS });
  ctx.res.end(html);
}

/** Signed in (session cookie or Bearer token), else a redirect to the sign-in page (or 401 for non-browsers). */
export function requireUser(deps: { apiToken: string; signingKey: Buffer }, ctx: RequestContext, nowMs: number): boolean {
  if (isAuthenticated(deps, ctx.req, nowMs)) return true;
  if ((ctx.req.headers.accept ?? "").includes("text/html")) {
    ctx.res.writeHead(303, { location: `/login?next=${encodeURIComponent(ctx.url.pathname + ctx.url.search)}`, ...PAGE_SECURITY_HEADERS });
    ctx.res.end();
  } else {
    sendJson(ctx.res, 401, { code: "unauthorized", message: "sign in, or send the API token as a Bearer header" });
  }
  return false;
}

/** `2026-11-30 07:59:11 UTC`: one unambiguous form on every page. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined ? "" : `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
