import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "dstack_session";
const SESSION_SECONDS = 7 * 24 * 3600;

/**
 * The MAC covers the API token the browser signed in with: replacing a leaked DSTACK_API_TOKEN also
 * ends every browser session opened with it (the signing key in the data dir stays the same).
 */
function sign(key: Buffer, apiToken: string, expires: string): string {
  return createHmac("sha256", key).update(`session\n${expires}\n${apiToken}`).digest("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A signed, expiring session cookie value: `{expires}.{hmac}`, for a browser that gave `apiToken`. */
export function issueSession(key: Buffer, apiToken: string, nowMs: number): { value: string; maxAgeSeconds: number } {
  const expires = String(Math.floor(nowMs / 1000) + SESSION_SECONDS);
  return { value: `${expires}.${sign(key, apiToken, expires)}`, maxAgeSeconds: SESSION_SECONDS };
}

/** Whether `value` was issued for the current `apiToken` and has not expired. */
export function validSession(key: Buffer, apiToken: string, value: string | undefined, nowMs: number): boolean {
  if (value === undefined) return false;
  const [expires = "", sig = ""] = value.split(".");
  if (!/^\d+$/.test(expires) || Number(expires) * 1000 < nowMs) return false;
  return safeEqual(sig, sign(key, apiToken, expires));
}

export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeCookieValue(v.join("="));
  }
  return undefined;
}

/** A value with a malformed %-escape is no cookie of ours: read as absent (signed out), not a 500. */
function decodeCookieValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no request another site
 * starts carries it), Secure when the service is served over https.
 */
export function sessionCookie(value: string, maxAgeSeconds: number, publicUrl: string): string {
  const secure = publicUrl.startsWith("https:") ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Strict${secure}`;
}
