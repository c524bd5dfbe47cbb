/* global fetch */
/**
 * Calls /api/v1 with the page's session cookie. State-changing calls carry the CSRF header the API
 * asks of cookie-authenticated requests (src/api/v1/api-auth.ts).
 */
export async function api(method, path, body) {
  const headers = { accept: "application/json", "x-dstack-csrf": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await res.json() : undefined;
  if (!res.ok) throw new Error((data && data.message) || `${method} ${path}: HTTP ${res.status}`);
  return data;
}

/** Puts `text` (never HTML) into the element, e.g. a role=status line. */
export function say(el, text) {
  if (el) el.textContent = text;
}
