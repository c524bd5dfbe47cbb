import { DstackError, InvalidInputError, NotFoundError } from "../../errors.js";
import { declaredLength, limitRequestBody, refuseRest } from "../../http/limit-request-body.js";
import { readJson, sendJson, type RequestContext, type Router } from "../../http/router.js";
import { UPLOAD_LIMIT_VARIABLES } from "../../artifacts/upload-limits.js";
import { formatBytes } from "../../runs/run-view.js";
import { isUploadId, MAX_CODE_UPLOAD_BYTES, newUploadId, uploadKey } from "../../runs/code-upload.js";
import { refusalMessage } from "../../runs/refusal-message.js";
import { resolveRunRequest } from "../../runs/resolve-run-request.js";
import { submitRunGroup } from "../../runs/submit-runs.js";
import { isTerminal, type Run } from "../../runs/types.js";
import type { RunCursor } from "../../runs/run-store.js";
import { formatProblem } from "../../workflow/index.js";
import { principalOf, repoFilter, requireApiToken, requireRepo, requireRun } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { runJson } from "./run-json.js";
import { ListRunsQuery, parseInput, queryOf, RepoName, SubmitRunBody } from "./schemas.js";

/** The stable error code of each way a run request is refused. */
const REFUSAL_CODES = { "invalid-files": "invalid_workflow_file", "invalid-command": "invalid_command", refused: "refused" } as const;

/** Runs scanned at most for one filtered listing (filters apply after the repo index). */
const MAX_SCANNED = 5000;

/** Runs: submit, list, get, stop; code uploads; whether GitHub can serve a commit. */
export function mountRunsRoutes(router: Router, deps: ApiV1Deps): void {
  const now = deps.now ?? Date.now;
  const auth = (h: Parameters<Router["add"]>[2]) => requireApiToken(deps, h);
  const maxUploadBytes = deps.maxCodeUploadBytes ?? MAX_CODE_UPLOAD_BYTES;

  router.add(
    "POST",
    "/api/v1/uploads",
    auth(async (ctx) => {
      await requireUploader(deps, ctx);
      const tooLarge = (sizeBytes: number | undefined) => {
        refuseRest(ctx.res);
        return codeUploadTooLarge(sizeBytes, maxUploadBytes);
      };
      const declared = declaredLength(ctx.req);
      if (declared !== undefined && declared > maxUploadBytes) throw tooLarge(declared);
      const id = newUploadId();
      const limited = limitRequestBody(ctx.req, maxUploadBytes, () => codeUploadTooLarge(undefined, maxUploadBytes));
      try {
        const obj = await deps.artifacts.put(uploadKey(id), limited.body, { contentType: "application/gzip" });
        sendJson(ctx.res, 201, { upload: id, sizeBytes: obj.sizeBytes });
      } catch (err) {
        await deps.artifacts.deletePrefix(`uploads/${id}/`).catch(() => undefined);
        if (!ctx.req.complete) refuseRest(ctx.res);
        throw limited.exceeded() ? tooLarge(undefined) : err;
      }
    }),
  );

  router.add(
    "GET",
    "/api/v1/repos/:owner/:name/commits/:sha/code",
    auth(async (ctx) => {
      const repo = parseInput(RepoName, `${ctx.params.owner}/${ctx.params.name}`, "repository");
      await requireRepo(deps, principalOf(ctx), repo, "read");
      const access = await deps.commitAccess(repo, ctx.params.sha ?? "");
      sendJson(ctx.res, 200, access.ok ? { available: true } : { available: false, reason: access.reason });
    }),
  );

  router.add(
    "POST",
    "/api/v1/runs",
    auth(async (ctx) => {
      const body = parseInput(SubmitRunBody, await readJson(ctx.req, 8 * 1024 * 1024), "run request");
      const principal = principalOf(ctx);
      await requireRepo(deps, principal, body.repo, "write");
      let code: Run["code"];
      let installationId: number | undefined;
      if (body.code.kind === "upload") {
        code = { kind: "upload", key: await existingUpload(deps, body.code.upload) };
      } else {
        if (body.commit === undefined) throw new InvalidInputError("bad run request: code.kind `github` needs `commit`");
        const access = await deps.commitAccess(body.repo, body.commit);
        if (!access.ok) throw new DstackError("code_unavailable", `the service cannot fetch ${body.repo}@${body.commit.slice(0, 12)}: ${access.reason}; upload the working tree instead`);
        installationId = access.installationId;
        code =
          body.code.overlay === undefined ? { kind: "github" } : { kind: "github", overlay: { key: await existingUpload(deps, body.code.overlay), deleted: body.code.deleted } };
      }
      const argv = [...body.run, ...Object.entries(body.variables ?? {}).flatMap(([k, v]) => [`--${k}`, v])];
      const resolved = resolveRunRequest(body.files, argv, { check: deps.check });
      if (!resolved.ok) throw new InvalidInputError(refusalMessage(resolved), REFUSAL_CODES[resolved.kind]);
      const runs = await submitRunGroup(
        { store: deps.store },
        {
          repo: body.repo,
          installationId,
          commit: body.commit ?? "0000000000000000000000000000000000000000",
          ref: body.ref,
          trigger: { kind: "api", actor: principal.kind === "github" ? principal.login : "api" },
          workflows: resolved.workflows,
          target: resolved.target,
          variables: resolved.variables,
          code,
          targetRunId: resolved.runId,
          // A GitHub user reuses another repository's artifacts only if they may read that repository.
          mayReuseFrom: (repo) => requireRepo(deps, principal, repo, "read"),
        },
      );
      for (const run of runs) await deps.enqueueRun(run.id);
      const t = now();
      const target = runs.at(-1) as Run;
      sendJson(ctx.res, 201, {
        run: runJson(target, deps.publicUrl, t),
        runs: runs.map((r) => runJson(r, deps.publicUrl, t)),
        warnings: resolved.warnings.map((p) => formatProblem(p)),
      });
    }),
  );

  router.add(
    "GET",
    "/api/v1/runs",
    auth(async (ctx) => {
      const q = parseInput(ListRunsQuery, queryOf(ctx.url), "query");
      const principal = principalOf(ctx);
      if (q.repo !== undefined) await requireRepo(deps, principal, q.repo, "read");
      const readable = repoFilter(deps, principal);
      const found: Run[] = [];
      let before: RunCursor | undefined;
      let scanned = 0;
      const filtered = q.workflow !== undefined || q.status !== undefined || principal.kind !== "service";
      while (found.length < q.limit && scanned < MAX_SCANNED) {
        const page = await deps.store.list({ repo: q.repo, limit: filtered ? 200 : q.limit, before });
        scanned += page.length;
        for (const run of page) {
          if (q.workflow !== undefined && run.workflow.name !== q.workflow) continue;
          if (q.status !== undefined && run.status !== q.status) continue;
          if (!(await readable(run.repo))) continue;
          if (found.length < q.limit) found.push(run);
        }
        const last = page.at(-1);
        if (!filtered || last === undefined || page.length < 200) break;
        before = { at: last.createdAt, id: last.id };
      }
      const t = now();
      sendJson(ctx.res, 200, { runs: found.map((r) => runJson(r, deps.publicUrl, t)) });
    }),
  );

  router.add(
    "GET",
    "/api/v1/runs/:id",
    auth(async (ctx) => {
      sendJson(ctx.res, 200, { run: runJson((await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "read")).run, deps.publicUrl, now()) });
    }),
  );

  router.add(
    "POST",
    "/api/v1/runs/:id/stop",
    auth(async (ctx) => {
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "write")).run;
      if (isTerminal(run.status)) throw new DstackError("conflict", `run ${run.id} already ended (${run.status})`);
      // Who stopped it, as the check run and the run page say it: a signed-in GitHub user by name.
      const principal = principalOf(ctx);
      const reason = principal.kind === "github" ? `stopped by @${principal.login}` : "stopped through the API";
      await deps.store.update(run.id, { stopRequested: reason });
      // A run still waiting for its dependencies has no agent to tell: end it here. The supervisor
      // handles every other state (it tells the agent, which reports `stopped`).
      if (run.status === "submitted") {
        await deps.store.transition(run.id, "stopped", { from: ["submitted"], patch: { reason } });
        await deps.enqueueRun(run.id);
      }
      sendJson(ctx.res, 202, { run: runJson(await deps.store.get(run.id), deps.publicUrl, now()) });
    }),
  );
}

/**
 * Any GitHub account can sign in and make a CLI token, so a GitHub user's upload names the repository
 * it is for (`?repo=owner/name`) and needs write permission there, as the run it is for does: else
 * anyone could fill the artifact store with 100 MiB tarballs. The API token (the team's key) may
 * leave it out.
 */
async function requireUploader(deps: ApiV1Deps, ctx: RequestContext): Promise<void> {
  const principal = principalOf(ctx);
  const repo = ctx.url.searchParams.get("repo");
  if (repo === null) {
    if (principal.kind === "service") return;
    throw new InvalidInputError("bad query: repo: an upload with a personal token names the repository it is for (`?repo=owner/name`); update the CLI");
  }
  await requireRepo(deps, principal, parseInput(RepoName, repo, "repository"), "write");
}

function codeUploadTooLarge(sizeBytes: number | undefined, maxBytes: number): DstackError {
  const size = sizeBytes === undefined ? "" : ` ${formatBytes(sizeBytes)},`;
  return new DstackError(
    "too_large",
    `the upload is${size} over the limit of ${formatBytes(maxBytes)} set by ${UPLOAD_LIMIT_VARIABLES.codeUploadBytes} on the service; leave big files out with .gitignore`,
  );
}

async function existingUpload(deps: Pick<ApiV1Deps, "artifacts">, id: string): Promise<string> {
  if (!isUploadId(id)) throw new NotFoundError(`upload ${JSON.stringify(id)} does not exist; POST the tarball to /api/v1/uploads first`);
  const key = uploadKey(id);
  const found = await deps.artifacts.list(key);
  if (!found.some((o) => o.key === key)) throw new NotFoundError(`upload ${id} does not exist; POST the tarball to /api/v1/uploads first`);
  return key;
}
