import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** What the metadata service of one (simulated) instance says. */
export interface MetadataInstance {
  /** `instance-life-cycle`: `spot` or `on-demand`. */
  lifeCycle: "spot" | "on-demand";
  /** Set by `interrupt`: when the notice appeared (epoch ms) and the time it announces. */
  notice?: { at: number; body: { action: string; time: string } };
  /** `METHOD path` of each request, in order (path within the instance's URL). */
  requests: string[];
  /** Requests that came without a valid IMDSv2 token (answered 401, as EC2 does with HttpTokens: required). */
  refused: number;
}

export interface MetadataServer {
  /** Base URL of `id`'s metadata service: `DSTACK_AGENT_METADATA_URL` for that instance's agent. */
  urlFor(id: string, lifeCycle?: MetadataInstance["lifeCycle"]): string;
  instance(id: string): MetadataInstance;
  /** From now on `id`'s `spot/instance-action` announces that EC2 takes it back in `inSeconds` (default 120). */
  interrupt(id: string, inSeconds?: number): void;
  close(): Promise<void>;
}

const TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER = "x-aws-ec2-metadata-token";

/**
 * A local EC2 instance metadata service with IMDSv2 only (HttpTokens: required): `PUT
 * /latest/api/token` with a TTL header gives a session token, and every GET must carry it. Serves
 * `meta-data/instance-life-cycle` and `meta-data/spot/instance-action` (404 until `interrupt`), as
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html says.
 * Several instances share one server: each is reached under `/<instance id>/latest/...`.
 */
export async function startMetadataServer(): Promise<MetadataServer> {
  const instances = new Map<string, MetadataInstance>();
  const tokens = new Set<string>();
  const instance = (id: string): MetadataInstance => {
    let found = instances.get(id);
    if (found === undefined) {
      found = { lifeCycle: "on-demand", requests: [], refused: 0 };
      instances.set(id, found);
    }
    return found;
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://metadata");
    const [, id = "", ...rest] = url.pathname.split("/");
    const path = `/${rest.join("/")}`;
    const i = instance(id);
    i.requests.push(`${req.method ?? "GET"} ${path}`);
    req.resume();
    const send = (status: number, body = "") => {
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
    };
    if (req.method === "PUT" && path === "/latest/api/token") {
      const ttl = Number(req.headers[TOKEN_TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return send(400, "missing or invalid TTL header");
      const token = randomBytes(16).toString("base64");
      tokens.add(token);
      return send(200, token);
    }
    if (req.method !== "GET") return send(405);
    const token = req.headers[TOKEN_HEADER];
    if (typeof token !== "string" || !tokens.has(token)) {
      i.refused++;
      return send(401);
    }
    if (path === "/latest/meta-data/instance-life-cycle") return send(200, i.lifeCycle);
    if (path === "/latest/meta-data/spot/instance-action") return i.notice === undefined ? send(404) : send(200, JSON.stringify(i.notice.body));
    return send(404);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    urlFor(id, lifeCycle) {
      if (lifeCycle !== undefined) instance(id).lifeCycle = lifeCycle;
      return `${base}/${id}`;
    },
    instance,
    interrupt(id, inSeconds = 120) {
      const at = Date.now();
      // EC2 gives the time to the second, in UTC.
      const time = new Date(at + inSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
      instance(id).notice = { at, body: { action: "terminate", time } };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
