import path from "node:path";
import { pipeline } from "node:stream/promises";
import { attachmentContentDisposition, runArtifactKey, trustedArtifacts } from "../../artifacts/index.js";
import { streamArchive } from "../../artifacts/stream-archive.js";
import { ArtifactNotFoundError, InvalidInputError, NotFoundError } from "../../errors.js";
import { sendJson, type Router } from "../../http/router.js";
import type { Run } from "../../runs/types.js";
import { principalOf, requireApiToken, requireRun } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";

/**
 * A run's artifacts: the list with sizes, one file (`?path=`), or all of them as one streamed
 * `tar.gz` whose entries are the artifact paths. Only files in the run's manifest count: objects
 * left by an upload that failed half-way are not the run's artifacts.
 */
export function mountArtifactsRoutes(router: Router, deps: ApiV1Deps): void {
  const auth = (h: Parameters<Router["add"]>[2]) => requireApiToken(deps, h);
  const listOf = async (run: Run) =>
    (await trustedArtifacts(deps, run.id)).map((f) => ({ path: f.path, key: runArtifactKey(run.id, f.path), sizeBytes: f.sizeBytes }));

  router.add(
    "GET",
    "/api/v1/runs/:id/artifacts",
    auth(async (ctx) => {
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "read")).run;
      const files = await listOf(run);
      sendJson(ctx.res, 200, {
        runId: run.id,
        status: run.status,
        artifacts: files.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes })),
        totalBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
      });
    }),
  );

  router.add(
    "GET",
    "/api/v1/runs/:id/artifacts/file",
    auth(async (ctx) => {
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "read")).run;
      const rel = ctx.url.searchParams.get("path");
      if (rel === null || rel === "") throw new InvalidInputError("bad query: path: the artifact's path is required (`?path=out/model.bin`)");
      const key = runArtifactKey(run.id, rel);
      const listed = (await listOf(run)).find((o) => o.key === key);
      if (listed === undefined) throw new NotFoundError(`run ${run.id} has no artifact ${JSON.stringify(rel)}`);
      const stream = await deps.artifacts.get(key).catch((err: unknown) => {
        if (err instanceof ArtifactNotFoundError) throw new NotFoundError(`run ${run.id} has no artifact ${JSON.stringify(rel)}`);
        throw err;
      });
      ctx.res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": listed.sizeBytes,
        "content-disposition": attachmentContentDisposition(path.posix.basename(rel)),
        "x-content-type-options": "nosniff",
      });
      await pipeline(stream, ctx.res);
    }),
  );

  router.add(
    "GET",
    "/api/v1/runs/:id/artifacts/archive",
    auth(async (ctx) => {
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "read")).run;
      const files = await listOf(run);
      ctx.res.writeHead(200, {
        "content-type": "application/gzip",
        "content-disposition": attachmentContentDisposition(`${run.id}-artifacts.tar.gz`),
        "x-dstack-artifact-bytes": String(files.reduce((n, f) => n + f.sizeBytes, 0)),
        "x-dstack-artifact-files": String(files.length),
      });
      await pipeline(streamArchive(deps.artifacts, files.map((f) => ({ name: f.path, key: f.key, sizeBytes: f.sizeBytes }))), ctx.res);
    }),
  );
}
