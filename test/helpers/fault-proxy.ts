import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP proxy that injects faults in front of a server (the test S3 server): matching requests
 * are answered with an S3 error (`503 SlowDown`, `500 InternalError`) or have their connection
 * reset, for the next N of them or for a time window; everything else is piped through untouched
 * (the `Host` header too, so SigV4 signatures made for the proxy's address still verify).
 */
export interface FaultRule {
  /** Tested against `"METHOD /path?query"`, e.g. `/^PUT \/artifacts\/runs\/[^?]+\?.*partNumber=/`. */
  match: RegExp;
  /** An S3 error answer, or `"reset"`: the connection is destroyed once the request's headers arrive. */
  action: { status: number; code: string } | "reset";
  /** Fault this many matching requests. Default: every one (with `forMs`, every one in the window). */
  times?: number;
  /** Fault matching requests only within this many ms of the first one that matched. */
  forMs?: number;
}

export interface InjectedFault {
  at: number;
  request: string;
  action: string;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to the client instead of the target. */
  endpoint: string;
  /** Every fault injected, in order. */
  readonly injected: InjectedFault[];
  /** Every request that reached the target, as `"METHOD /path?query"`. */
  readonly forwarded: string[];
  fail(rule: FaultRule): void;
  /** Drops every rule. */
  clear(): void;
  close(): Promise<void>;
}

interface ActiveRule {
  rule: FaultRule;
  used: number;
  firstAt?: number;
}

const SAFE = /[<>&]/g;

function s3ErrorXml(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code.replace(SAFE, "")}</Code><Message>injected by the test's fault proxy</Message></Error>`;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const rules: ActiveRule[] = [];
  const injected: InjectedFault[] = [];
  const forwarded: string[] = [];

  /** The first rule that faults `line` now, counting it. */
  function faultFor(line: string): FaultRule | undefined {
    const now = Date.now();
    for (const active of rules) {
      if (!active.rule.match.test(line)) continue;
      active.firstAt ??= now;
      if (active.rule.forMs !== undefined && now - active.firstAt > active.rule.forMs) continue;
      if (active.rule.times !== undefined && active.used >= active.rule.times) continue;
      active.used += 1;
      return active.rule;
    }
    return undefined;
  }

  function forward(req: IncomingMessage, res: ServerResponse, line: string): void {
    forwarded.push(line);
    const out = httpRequest(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  }

  const server = createServer((req, res) => {
    const line = `${req.method ?? "GET"} ${req.url ?? "/"}`;
    const rule = faultFor(line);
    if (rule === undefined) {
      forward(req, res, line);
      return;
    }
    const action = rule.action;
    if (action === "reset") {
      injected.push({ at: Date.now(), request: line, action: "reset" });
      req.socket.destroy();
      return;
    }
    injected.push({ at: Date.now(), request: line, action: `${action.status} ${action.code}` });
    // Read the body first: answering mid-upload makes some clients see EPIPE instead of the answer.
    req.resume();
    req.on("end", () => {
      const body = s3ErrorXml(action.code);
      res.writeHead(action.status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    forwarded,
    fail(rule) {
      rules.push({ rule, used: 0 });
    },
    clear() {
      rules.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
