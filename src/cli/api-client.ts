import { ConfigError, DstackError, InvalidInputError, NotFoundError, UnauthorizedError } from "../errors.js";
import type { CliConfig } from "./cli-config.js";
import { ServerUnreachableError } from "./server-unreachable-error.js";

export interface ApiRequest {
  method?: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * The CLI's client of `/api/v1`: adds the token, and turns every failure into a typed error with a
 * message that says what to do (server down, bad token, unknown run), mapped to an exit code in main.
 */
export class ApiClient {
  readonly url: string;
  private readonly token: string;

  constructor(config: Pick<CliConfig, "url" | "token" | "file">) {
    if (config.token === undefined) {
      throw new ConfigError(
        `no API token: set DSTACK_TOKEN or run \`dstack config --token\` (the service prints its token at first start and keeps it in $DSTACK_DATA_DIR/keys/api-token)`,
      );
    }
    this.url = config.url;
    this.token = config.token;
  }

  /** Sends the request; resolves only for a 2xx answer (whose body the caller reads). */
  async request(path: string, req: ApiRequest = {}): Promise<Response> {
    const url = new URL(`${this.url}${path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...req.headers };
    let body: Buffer | string | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await fetch(url, { method: req.method ?? "GET", headers, body, signal: req.signal });
    } catch (err) {
      if (req.signal?.aborted === true) throw err;
      throw new ServerUnreachableError(this.url, networkReason(err), { cause: err });
    }
    if (res.ok) return res;
    throw await errorOf(res, this.url);
  }

  async json<T>(path: string, req: ApiRequest = {}): Promise<T> {
    const res = await this.request(path, req);
    return (await res.json()) as T;
  }
}

async function errorOf(res: Response, url: string): Promise<DstackError> {
  const text = await res.text().catch(() => "");
  const { code, message } = parseError(text);
  if (message === "") {
    return new DstackError("server", `${url} answered ${res.status} ${res.statusText} with no dstack error: is DSTACK_URL the dstack service?`);
  }
  switch (res.status) {
    case 401:
    case 403:
      // `forbidden`: the token is fine, but its user's GitHub permission does not allow this.
      if (code === "forbidden") return new UnauthorizedError(message);
      // The service's message already says what to do (check DSTACK_TOKEN, make a new CLI token): add only where.
      return new UnauthorizedError(`the server at ${url} refused the token: ${message}`);
    case 404:
      return new NotFoundError(message);
    case 400:
    case 413:
      return new InvalidInputError(message, code || "invalid_input");
    default:
      // `unavailable` (503) is the service saying what it cannot do here ("no Sign in with GitHub"), not a fault.
      return new DstackError(code || "server", res.status >= 500 && code !== "unavailable" ? `the server failed (${res.status}): ${message}` : message);
  }
}

/** `{code, message}` of a dstack error body; empty strings for anything else (an HTML page, a proxy's text). */
function parseError(text: string): { code: string; message: string } {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    return { code: typeof body.code === "string" ? body.code : "", message: typeof body.message === "string" ? body.message : "" };
  } catch {
    return { code: "", message: "" };
  }
}

function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof Error && "code" in cause && typeof cause.code === "string") {
    const known: Record<string, string> = { ECONNREFUSED: "connection refused", ENOTFOUND: "unknown host", ETIMEDOUT: "timed out", ECONNRESET: "connection reset" };
    return known[cause.code] ?? cause.code;
  }
  return cause instanceof Error ? cause.message : String(cause);
}
