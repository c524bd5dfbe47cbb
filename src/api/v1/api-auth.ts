import type { IncomingMessage } from "node:http";
import { UnauthorizedError } from "../../errors.js";
import { bearerToken, type Handler, type RequestContext } from "../../http/router.js";
import { cookie, safeEqual, SESSION_COOKIE, validSession } from "../session.js";

/**
 * Who may call the API: the API token as a Bearer header and, when `sessionKey` is given, the web
 * pages' session cookie (see {@link sessionAllowed}).
 */
export interface ApiAuth {
  apiToken: string;
  /** The key that signs session cookies; absent: the API takes the Bearer token only. */
  sessionKey?: Buffer;
  now?(): number;
}

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
  if (!validSession(auth.sessionKey, cookie(req, SESSION_COOKIE), (auth.now ?? Date.now)())) return false;
  if (req.headers["sec-fetch-site"] === "cross-site") return false;
  const safe = req.method === "GET" || req.method === "HEAD";
  return safe || req.headers[CSRF_HEADER] === "1";
}

/**
 * Wraps a handler so it runs only for requests carrying the API token (`DSTACK_API_TOKEN`) as a
 * `Bearer` header, compared in constant time, or (pages) a valid session cookie.
 */
export function requireApiToken(auth: ApiAuth, handler: Handler): Handler {
  return (ctx: RequestContext) => {
    const token = bearerToken(ctx.req);
    if (token === undefined) {
      if (sessionAllowed(auth, ctx.req)) return handler(ctx);
      throw new UnauthorizedError("this API needs the service's API token as `Authorization: Bearer <token>` (DSTACK_API_TOKEN)");
    }
    if (!safeEqual(token, auth.apiToken)) throw new UnauthorizedError("the API token is not valid for this service; check DSTACK_TOKEN or `dstack config`");
    return handler(ctx);
  };
}
