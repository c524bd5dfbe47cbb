import path from "node:path";
import { pipeline } from "node:stream/promises";
import { attachmentContentDisposition, runArtifactKey, runLogKey, verifyDownloadSignature, type ArtifactStore } from "../artifacts/index.js";
import { ArtifactNotFoundError, NotFoundError } from "../errors.js";
import { readBody, sendJson, sendText, type RequestContext, type Router } from "../http/router.js";
import { render } from "../render.js";
import type { LogStore } from "../runs/log-store.js";
import { stripAnsi } from "../runs/log-tail.js";
import type { RunStore } from "../runs/run-store.js";
import { describeResources, describeTrigger, formatBytes, runDuration } from "../runs/run-view.js";
import { isTerminal, type Run } from "../runs/types.js";
import { isAuthenticated, issueSession, safeEqual, SESSION_COOKIE } from "./session.js";

export interface PagesDeps {
  store: RunStore;
  logs: LogStore;
  artifacts: ArtifactStore;
  apiToken: string;
  signingKey: Buffer;
  publicUrl: string;
  now?: () => number;
}

/** Bytes of log shown inline on the run page; the rest is one click away. */
const PAGE_LOG_BYTES = 256 * 1024;

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

function sendHtml(ctx: RequestContext, status: number, html: string): void {
  ctx.res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html), ...SECURITY_HEADERS });
  ctx.res.end(html);
}

/** Server-rendered pages: the run page (check runs' `details_url`), its full log, sign-in, downloads. */
export function mountPages(router: Router, deps: PagesDeps): void {
  const now = deps.now ?? Date.now;
  const requireUser = (ctx: RequestContext): boolean => {
    if (isAuthenticated(deps, ctx.req, now())) return true;
    if ((ctx.req.headers.accept ?? "").includes("text/html")) {
      ctx.res.writeHead(303, { location: `/login?next=${encodeURIComponent(ctx.url.pathname)}` });
      ctx.res.end();
    } else {
      sendJson(ctx.res, 401, { code: "unauthorized", message: "sign in, or send the API token as a Bearer header" });
    }
    return false;
  };

  router.add("GET", "/runs/:id", async (ctx) => {
    if (!requireUser(ctx)) return;
    const run = await deps.store.get(ctx.params.id ?? "");
    const start = Math.max(0, run.logBytes - PAGE_LOG_BYTES);
    const text = await readLog(deps, run, start, PAGE_LOG_BYTES);
    const artifacts = await Promise.all(
      run.artifacts.slice(0, 500).map(async (a) => ({
        path: a.path,
        size: formatBytes(a.sizeBytes),
        url: await deps.artifacts.downloadUrl(runArtifactKey(run.id, a.path), { expiresInSeconds: 3600, fileName: path.basename(a.path) }),
      })),
    );
    sendHtml(
      ctx,
      200,
      render("run-page.html", {
        runId: run.id,
        repo: run.repo,
        workflow: run.workflow.name,
        status: run.status,
        reason: run.reason,
        trigger: describeTrigger(run),
        commit: run.commit,
        provider: run.workflow.provider,
        resources: describeResources(run.workflow.resources),
        machine: run.machine?.description ?? "not yet assigned",
        duration: runDuration(run, now()),
        artifacts,
        logText: stripAnsi(text),
        logUrl: `/runs/${run.id}/log`,
        logSize: formatBytes(run.logBytes),
        logTruncated: start > 0,
        shown: formatBytes(PAGE_LOG_BYTES),
      }),
    );
  });

  router.add("GET", "/runs/:id/log", async (ctx) => {
    if (!requireUser(ctx)) return;
    const run = await deps.store.get(ctx.params.id ?? "");
    ctx.res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
    const file = deps.logs.openFile(run.id);
    if (file !== undefined) {
      await pipeline(file, ctx.res);
      return;
    }
    if (isTerminal(run.status)) {
      const stored = await deps.artifacts.get(runLogKey(run.id)).catch((err: unknown) => {
        if (err instanceof ArtifactNotFoundError) return undefined;
        throw err;
      });
      if (stored !== undefined) {
        await pipeline(stored, ctx.res);
        return;
      }
    }
    const tail = await deps.logs.tail(run.id, 4 * 1024 * 1024);
    ctx.res.end(tail.data);
  });

  router.add("GET", "/login", (ctx) => {
    sendHtml(ctx, 200, render("login.html", { next: safeNext(ctx.url.searchParams.get("next")) }));
  });

  router.add("POST", "/login", async (ctx) => {
    const form = new URLSearchParams((await readBody(ctx.req, 16 * 1024)).toString("utf8"));
    const next = safeNext(form.get("next"));
    if (!safeEqual(form.get("token") ?? "", deps.apiToken)) {
      sendHtml(ctx, 401, render("login.html", { next, error: "That token is not this service's API token." }));
      return;
    }
    const session = issueSession(deps.signingKey, now());
    const secure = deps.publicUrl.startsWith("https:") ? "; Secure" : "";
    ctx.res.writeHead(303, {
      location: next,
      "set-cookie": `${SESSION_COOKIE}=${session.value}; Max-Age=${session.maxAgeSeconds}; Path=/; HttpOnly; SameSite=Strict${secure}`,
    });
    ctx.res.end();
  });

  router.add("GET", "/artifacts/download", async (ctx) => {
    const q = ctx.url.searchParams;
    const key = q.get("key") ?? "";
    if (!verifyDownloadSignature({ key, expires: q.get("expires"), sig: q.get("sig") }, deps.signingKey, now())) {
      sendText(ctx.res, 403, "this download link is invalid or has expired\n");
      return;
    }
    const stream = await deps.artifacts.get(key).catch((err: unknown) => {
      if (err instanceof ArtifactNotFoundError) throw new NotFoundError("that artifact no longer exists");
      throw err;
    });
    ctx.res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-disposition": attachmentContentDisposition(path.posix.basename(key)),
      "x-content-type-options": "nosniff",
    });
    await pipeline(stream, ctx.res);
  });
}

/** Only same-site relative paths: an open redirect after sign-in would be a phishing tool. */
function safeNext(next: string | null): string {
  return next !== null && /^\/(?!\/)[^\\]*$/.test(next) ? next : "/";
}

async function readLog(deps: PagesDeps, run: Run, start: number, max: number): Promise<string> {
  const file = deps.logs.openFile(run.id, start);
  if (file !== undefined) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of file) {
      chunks.push(c as Buffer);
      size += (c as Buffer).length;
      if (size >= max) break;
    }
    file.destroy();
    return Buffer.concat(chunks).subarray(0, max).toString("utf8");
  }
  return (await deps.logs.tail(run.id, max)).data.toString("utf8");
}
