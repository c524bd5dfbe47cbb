import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import type { AgentConfig } from "./config.js";

/** Thrown for answers that retrying cannot fix (4xx): the run is gone, the token revoked. */
export class AgentApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A 5xx or 429 answer that was not retried here (retries used up, or a streamed body that cannot be sent again). */
export class ServiceAnswerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: string;
  body?: Buffer | string | Readable;
  headers?: Record<string, string>;
  /** Retries for network errors and 5xx, with exponential backoff (default 8, about 2 minutes). */
  retries?: number;
  signal?: AbortSignal;
}

/**
 * The agent's HTTP client for the service's agent API (`/api/agent/v1/runs/{id}/...`), with the
 * run-scoped bearer token. Transient failures are retried: a service restart must not fail a run.
 */
export class AgentClient {
  constructor(private readonly config: AgentConfig) {}

  url(path: string): string {
    return `${this.config.serviceUrl}/api/agent/v1/runs/${this.config.runId}${path}`;
  }

  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const retries = options.retries ?? 8;
    let delayMs = 250;
    for (let attempt = 0; ; attempt++) {
      try {
        const isStream = options.body !== undefined && typeof options.body === "object" && !Buffer.isBuffer(options.body);
        const res = await fetch(this.url(path), {
          method: options.method ?? "GET",
          headers: { authorization: `Bearer ${this.config.token}`, ...options.headers },
          body: options.body as RequestInit["body"],
          signal: options.signal,
          ...(isStream ? { duplex: "half" } : {}),
        } as RequestInit);
        if (res.ok) return res;
        const text = await res.text().catch(() => "");
        if (res.status < 500 && res.status !== 429) {
          throw new AgentApiError(res.status, `${options.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 300)}`);
        }
        if (attempt >= retries || isStream) throw new ServiceAnswerError(res.status, `${options.method ?? "GET"} ${path}: ${res.status} ${text.slice(0, 300)}`);
      } catch (err) {
        if (err instanceof AgentApiError) throw err;
        if (options.signal?.aborted === true) throw err;
        const isStream = options.body !== undefined && typeof options.body === "object" && !Buffer.isBuffer(options.body);
        if (attempt >= retries || isStream) throw err;
      }
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  }

  /**
   * POSTs bytes over node:http with a kept-alive connection, retried like `request`. The log path
   * uses it: fetch copies every body into a web stream, a fifth of the agent's CPU on a flood.
   */
  async postBytes(path: string, body: Buffer, headers: Record<string, string>, retries = 8): Promise<{ status: number; text: string }> {
    let delayMs = 250;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.sendBytes(path, body, headers);
        if (res.status < 300) return res;
        if (res.status < 500 && res.status !== 429) throw new AgentApiError(res.status, `POST ${path}: ${res.status} ${res.text.slice(0, 300)}`);
        if (attempt >= retries) throw new Error(`POST ${path}: ${res.status} ${res.text.slice(0, 300)}`);
      } catch (err) {
        if (err instanceof AgentApiError || attempt >= retries) throw err;
      }
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  }

  private keepAlive: HttpAgent | undefined;

  private sendBytes(path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const url = new URL(this.url(path));
    const https = url.protocol === "https:";
    this.keepAlive ??= https ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: "POST",
          agent: this.keepAlive,
          headers: { ...headers, authorization: `Bearer ${this.config.token}`, "content-length": String(body.length) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`POST ${path}: no answer within 60 s`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Closes the kept-alive connection of `postBytes`. */
  close(): void {
    this.keepAlive?.destroy();
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(path, options);
    return (await res.json()) as T;
  }

  /** POSTs JSON and reads the answer to its end (an unread body keeps undici's connection busy). */
  async post(path: string, body: unknown, retries?: number): Promise<void> {
    const res = await this.request(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      retries,
    });
    await res.arrayBuffer();
  }
}
