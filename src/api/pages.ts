import path from "node:path";
import { pipeline } from "node:stream/promises";
import { attachmentContentDisposition, runLogKey, verifyDownloadSignature, type ArtifactStore } from "../artifacts/index.js";
import { ArtifactNotFoundError, ForbiddenError, NotFoundError } from "../errors.js";
import { readBody, sendText, type Router } from "../http/router.js";
import { render } from "../render.js";
import type { LogStore } from "../runs/log-store.js";
import type { RunStore } from "../runs/run-store.js";
import type { SecretStore } from "../runs/secret-store.js";
import { isTerminal, type Run } from "../runs/types.js";
import { mountGitHubLogin, type GitHubLogin } from "./github-login.js";
import { pageApiAuth, requireUser, safeNext, sendHtml } from "./page-response.js";
import { runPageView } from "./run-page-view.js";
import { mountRunsListPage } from "./runs-list-page.js";
import { cookie, issueSession, safeEqual, SESSION_COOKIE, sessionCookie } from "./session.js";
import { GITHUB_SESSION_PREFIX } from "./github-sessions.js";
import type { UserAccess } from "./user-access.js";
import { allows, crossSite, requireRun } from "./v1/api-auth.js";
import { mountSettingsPage } from "./settings-page.js";
import { mountWebAssets } from "./web-assets.js";

export interface PagesDeps {
  store: RunStore;
  /** For the settings page's list of secret names (never values). */
  secretStore?: Pick<SecretStore, "list">;
  logs: LogStore;
  artifacts: ArtifactStore;
  apiToken: string;
  signingKey: Buffer;
  publicUrl: string;
  /** GitHub users' sessions, CLI tokens and permissions; with `githubLogin`, "Sign in with GitHub". */
  users?: UserAccess;
  githubLogin?: GitHubLogin;
  now?: () => number;
}

/** Server-rendered pages: the run page (check runs' `details_url`), its full log, sign-in, downloads. */
export function mountPages(router: Router, deps: PagesDeps): void {
  const now = deps.now ?? Date.now;
  mountWebAssets(router);
  mountRunsListPage(router, deps);
  mountSettingsPage(router, deps);
  if (deps.githubLogin !== undefined) mountGitHubLogin(router, deps.githubLogin);

  router.add("GET", "/runs/:id", async (ctx) => {
    const user = await requireUser(deps, ctx, now());
    if (user === undefined) return;
    const { run, permission } = await requireRun({ ...pageApiAuth(deps, now()), store: deps.store }, user, ctx.params.id ?? "", "read");
    // Buttons the user may not use are not shown; the API refuses them anyway (api-auth.ts).
    sendHtml(ctx, 200, render("run-page.html", { ...runPageView(run, now(), allows(permission, "write")), code: await codeView(deps, run) }));
  });

  router.add("GET", "/runs/:id/log", async (ctx) => {
    const user = await requireUser(deps, ctx, now());
    if (user === undefined) return;
    const { run } = await requireRun({ ...pageApiAuth(deps, now()), store: deps.store }, user, ctx.params.id ?? "", "read");
    // Shown in the browser when followed from a check run; `?download=1` (the run page's link) saves it.
    ctx.res.writeHead(200, {
      "content-type": "text/plain; charset=utf-8",
      ...(ctx.url.searchParams.has("download") ? { "content-disposition": attachmentContentDisposition(`${run.id}.log`) } : {}),
      "x-content-type-options": "nosniff",
    });
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
    const next = safeNext(ctx.url.searchParams.get("next"));
    sendHtml(ctx, 200, render("login.html", { next, ...githubButton(deps, next) }));
  });

  router.add("POST", "/login", async (ctx) => {
    const form = new URLSearchParams((await readBody(ctx.req, 16 * 1024)).toString("utf8"));
    const next = safeNext(form.get("next"));
    if (!safeEqual(form.get("token") ?? "", deps.apiToken)) {
      sendHtml(ctx, 401, render("login.html", { next, error: "That token is not this service's API token.", ...githubButton(deps, next) }));
      return;
    }
    const session = issueSession(deps.signingKey, deps.apiToken, now());
    ctx.res.writeHead(303, { location: next, "set-cookie": sessionCookie(session.value, session.maxAgeSeconds, deps.publicUrl) });
    ctx.res.end();
  });

  // Signing out clears the cookie and ends a GitHub user's server-side session; an API-token session
  // value stays valid until it expires (it is stateless). SameSite=Strict keeps other sites from
  // posting here with it; the cookie-clearing answer would still sign the browser out, so a form
  // another site posts (logout CSRF) is refused.
  router.add("POST", "/logout", async (ctx) => {
    if (crossSite(ctx.req)) throw new ForbiddenError("sign out from this service's own pages");
    const value = cookie(ctx.req, SESSION_COOKIE);
    if (value?.startsWith(GITHUB_SESSION_PREFIX) === true) await deps.users?.sessions.delete(value.slice(GITHUB_SESSION_PREFIX.length));
    ctx.res.writeHead(303, { location: "/login", "set-cookie": `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict` });
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

/**
 * What the run's code is (the commit, its local changes, or an uploaded tree), with a link to the uploaded tarball.
 * Plain text, no Markdown backticks: the page shows it as written.
 */
async function codeView(deps: PagesDeps, run: Run): Promise<{ text: string; url?: string; linkText?: string; deleted?: string[] }> {
  const link = (key: string) => deps.artifacts.downloadUrl(key, { expiresInSeconds: 3600, fileName: `${run.id}-code.tar.gz` });
  if (run.code.kind === "upload") return { text: "a working tree uploaded by dstack run (no GitHub access to the commit)", url: await link(run.code.key), linkText: "the uploaded files (tar.gz)" };
  if (run.code.overlay === undefined) return { text: "the commit, from GitHub" };
  return {
    text: "the commit from GitHub with the local changes of dstack run laid over it",
    url: await link(run.code.overlay.key),
    linkText: "changed and untracked files (tar.gz)",
    deleted: run.code.overlay.deleted.slice(0, 100),
  };
}

/** The login page's "Sign in with GitHub" link, when it is configured. */
function githubButton(deps: PagesDeps, next: string): { githubUrl?: string } {
  return deps.githubLogin === undefined ? {} : { githubUrl: `/login/github?next=${encodeURIComponent(next)}` };
}
