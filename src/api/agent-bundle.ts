import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create as createTar } from "tar";
import { UnauthorizedError } from "../errors.js";
import { bearerToken, type Router } from "../http/router.js";
import type { RunStore } from "../runs/run-store.js";
import { agentBundleFiles } from "./agent-bundle-files.js";

export interface AgentBundle {
  /** `{package version}-{first 12 hex digits of the bundle's sha256}`. */
  version: string;
  sha256: string;
  bytes: Buffer;
}

export const AGENT_BUNDLE_ROUTE = "/api/agent/v1/runs/:id/agent.tgz";

/**
 * `GET /api/agent/v1/runs/{id}/agent.tgz`: the runner agent as a gzipped tarball, for machines that
 * have only Node (the EC2 user data fetches it). Authorised by the run's token, like the rest of the
 * agent API. It holds the service's `package.json` (for `"type": "module"`; nothing installs from
 * it), the compiled modules the agent reaches from `dist/runners/agent/main.js`, and the packages it
 * imports with their dependencies (see `agentBundleFiles`). Built once per process from the build
 * this service runs, so agent and service always match; the version header names the content.
 */
export function mountAgentBundle(router: Router, deps: { store: Pick<RunStore, "verifyToken">; root?: string }): void {
  let bundle: Promise<AgentBundle> | undefined;
  router.add("GET", AGENT_BUNDLE_ROUTE, async (ctx) => {
    const token = bearerToken(ctx.req);
    if (token === undefined || !(await deps.store.verifyToken(ctx.params.id ?? "", token))) {
      throw new UnauthorizedError("this runner token is not valid for that run");
    }
    bundle ??= buildAgentBundle(deps.root ?? packageRoot()).catch((err: unknown) => {
      bundle = undefined;
      throw err;
    });
    const b = await bundle;
    ctx.res.writeHead(200, {
      "content-type": "application/gzip",
      "content-length": b.bytes.length,
      etag: `"${b.sha256}"`,
      "x-dstack-agent-version": b.version,
    });
    ctx.res.end(ctx.req.method === "HEAD" ? undefined : b.bytes);
  });
}

/** Builds the agent's tarball from `root`, the package root holding `dist/` and `node_modules/`. */
export async function buildAgentBundle(root: string): Promise<AgentBundle> {
  const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version?: string };
  const files = ["package.json", ...agentBundleFiles(root)];
  const chunks: Buffer[] = [];
  // portable + a fixed mtime: the same build always gives the same bytes.
  const stream = createTar({ gzip: true, portable: true, mtime: new Date(0), cwd: root }, files);
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  const bytes = Buffer.concat(chunks);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { version: `${manifest.version ?? "0.0.0"}-${sha256.slice(0, 12)}`, sha256, bytes };
}

/** The package root: from src/api/ (tests) or dist/src/api/ (the build), the folder with package.json and dist/. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "dist"))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error("the package root (package.json next to dist/) was not found");
}
