import { DstackError, NotFoundError } from "../../errors.js";
import { readJson, sendJson, type RequestContext, type Router } from "../../http/router.js";
import { principalOf, requireApiToken, requireRepo, type ApiAuth, type Need } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { AddTagBody, parseInput, RepoName, TagName } from "./schemas.js";

export function repoOf(ctx: RequestContext): string {
  return parseInput(RepoName, `${ctx.params.owner ?? ""}/${ctx.params.name ?? ""}`, "repository");
}

/** The route's repository, once the caller is known to be allowed `need` on it. */
export async function allowedRepo(auth: ApiAuth, ctx: RequestContext, need: Need): Promise<string> {
  const repo = repoOf(ctx);
  await requireRepo(auth, principalOf(ctx), repo, need);
  return repo;
}

/** A repository's tags: what `depends-on: [workflow:tag]` reuses. One run per workflow per tag. */
export function mountTagsRoutes(router: Router, deps: ApiV1Deps): void {
  const auth = (h: Parameters<Router["add"]>[2]) => requireApiToken(deps, h);
  const base = "/api/v1/repos/:owner/:name/tags";

  router.add(
    "GET",
    base,
    auth(async (ctx) => {
      sendJson(ctx.res, 200, { tags: await deps.store.listTags(await allowedRepo(deps, ctx, "read")) });
    }),
  );

  router.add(
    "POST",
    base,
    auth(async (ctx) => {
      const repo = await allowedRepo(deps, ctx, "write");
      const body = parseInput(AddTagBody, await readJson(ctx.req), "tag request");
      const run = await deps.store.find(body.runId);
      if (run === undefined || run.repo !== repo) throw new NotFoundError(`there is no run ${JSON.stringify(body.runId)} in ${repo}`);
      if (run.status !== "done") throw new DstackError("conflict", `run ${run.id} is ${run.status}: only successful runs can be tagged`);
      await deps.store.tag(run, body.tag);
      sendJson(ctx.res, 201, { tag: body.tag, runId: run.id, workflow: run.workflow.name });
    }),
  );

  router.add(
    "DELETE",
    `${base}/:tag`,
    auth(async (ctx) => {
      const repo = await allowedRepo(deps, ctx, "write");
      const tag = parseInput(TagName, ctx.params.tag, "tag");
      const existed = (await deps.store.listTags(repo)).some((t) => t.tag === tag);
      if (!existed) throw new NotFoundError(`${repo} has no tag ${JSON.stringify(tag)}`);
      await deps.store.deleteTag(repo, tag);
      sendJson(ctx.res, 200, { tag, deleted: true });
    }),
  );
}
