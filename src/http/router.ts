import type { IncomingMessage, ServerResponse } from "node:http";
import { DstackError } from "../errors.js";
import type { Logger } from "../logger.js";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  url: URL;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** Writes an error as a page; the router calls it for a browser's request outside `/api/` (see `wantsPage`). */
export type ErrorPage = (res: ServerResponse, status: number, message: string) => void;

interface Route {
  method: string;
  path: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** HTTP statuses for our typed errors: one place, so every route answers alike. */
const STATUS_BY_CODE: Record<string, number> = {
  not_found: 404,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  too_large: 413,
  code_unavailable: 409,
  unavailable: 503,
  // The artifact store (S3) kept failing after the store's own retries: a gateway error, not the caller's.
  artifact_store: 502,
};

/**
 * A small router over node:http: `/runs/:id` style patterns, JSON errors `{code, message}` with a
 * stable code. Kept tiny on purpose: the webhook path is hot and frameworks cost throughput.
 */
export class Router {
  private readonly routes: Route[] = [];

  /** `errorPage`: how a browser sees a failed page (a run that does not exist); without it, JSON for everyone. */
  constructor(
    private readonly log: Pick<Logger, "error" | "warn">,
    private readonly errorPage?: ErrorPage,
  ) {}

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split("/")
      .map((seg) => {
        if (seg.startsWith(":")) {
          names.push(seg.slice(1).replace(/\*$/, ""));
          return seg.endsWith("*") ? "(.+)" : "([^/]+)";
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    this.routes.push({ method, path, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  /** Every route as added (`/runs/:id` patterns), in order: for documentation checks. */
  list(): Array<{ method: string; path: string }> {
    return this.routes.map((r) => ({ method: r.method, path: r.path }));
  }

  /** Handles the request if a route matches; returns false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (m === null) continue;
      allowed.push(route.method);
      if (route.method !== req.method && !(route.method === "GET" && req.method === "HEAD")) continue;
      try {
        await route.handler({ req, res, params: decodeParams(route.names, m), url });
      } catch (err) {
        this.fail(res, err, req);
      }
      return true;
    }
    if (allowed.length > 0) {
      // RFC 9110 §15.5.6: a 405 names the methods the resource has.
      const allow = [...new Set(allowed.includes("GET") ? [...allowed, "HEAD"] : allowed)].join(", ");
      sendJson(res, 405, { code: "method_not_allowed", message: `${req.method} is not allowed on ${url.pathname}; use ${allow}` }, { allow });
      return true;
    }
    return false;
  }

  /** Nothing here: `{code, message}`, or the error page for a browser opening a page (a mistyped address). */
  notFound(req: IncomingMessage, res: ServerResponse): void {
    this.sendError(res, req, 404, { code: "not_found", message: `nothing at ${req.method ?? "GET"} ${req.url?.split("?")[0] ?? "/"}` });
  }

  private fail(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    if (err instanceof DstackError) {
      this.sendError(res, req, STATUS_BY_CODE[err.code] ?? 400, { code: err.code, message: err.message });
      return;
    }
    this.log.error({ err, method: req.method, path: req.url?.split("?")[0] }, "request failed");
    this.sendError(res, req, 500, { code: "internal", message: "internal error; see the service log" });
  }

  private sendError(res: ServerResponse, req: IncomingMessage, status: number, body: { code: string; message: string }): void {
    if (res.headersSent) res.destroy();
    else if (this.errorPage !== undefined && wantsPage(req)) this.errorPage(res, status, body.message);
    else sendJson(res, status, body);
  }
}

/**
 * The route's `:name` parameters, percent-decoded. A malformed escape (`/runs/%E2`) is the caller's
 * mistake, answered 400, not a URIError that would end as a 500 and an error line in the log.
 */
function decodeParams(names: readonly string[], m: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = {};
  names.forEach((n, i) => {
    const raw = m[i + 1] ?? "";
    try {
      params[n] = decodeURIComponent(raw);
    } catch {
      throw new DstackError("invalid_input", `the address has a malformed %-escape in ${JSON.stringify(raw)}`);
    }
  });
  return params;
}

/**
 * A browser opening a page (a run's link, `/repos/x/y/settings`) asks for HTML; the API, the CLI, the
 * pages' own scripts and GitHub's webhooks do not, and always get `{code, message}`.
 */
function wantsPage(req: IncomingMessage): boolean {
  return !(req.url ?? "/").startsWith("/api/") && (req.headers.accept ?? "").includes("text/html");
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a request body up to `limitBytes`; larger bodies are refused with 413. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limitBytes) throw new DstackError("too_large", `request body over ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limitBytes) throw new DstackError("too_large", `request body over ${limitBytes} bytes`);
    chunks.push(b);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

export async function readJson(req: IncomingMessage, limitBytes = 1024 * 1024): Promise<unknown> {
  const body = await readBody(req, limitBytes);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new DstackError("invalid_input", "the request body is not valid JSON");
  }
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^(?:Bearer|token)\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}
