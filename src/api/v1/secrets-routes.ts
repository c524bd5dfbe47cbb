import { DstackError, NotFoundError } from "../../errors.js";
import { readJson, sendJson, type Router } from "../../http/router.js";
import { requireApiToken } from "./api-auth.js";
import type { ApiSecretStore, ApiV1Deps } from "./api-v1-deps.js";
import { parseInput, PutSecretBody, SecretName } from "./schemas.js";
import { allowedRepo } from "./tags-routes.js";

/** A repository's secrets: names out, values in; a value never leaves the service through the API. */
export function mountSecretsRoutes(router: Router, deps: ApiV1Deps): void {
  const auth = (h: Parameters<Router["add"]>[2]) => requireApiToken(deps, h);
  const store = (): ApiSecretStore => {
    if (deps.secretStore === undefined) throw new DstackError("unavailable", "this service has no secrets store configured");
    return deps.secretStore;
  };
  const base = "/api/v1/repos/:owner/:name/secrets";

  router.add(
    "GET",
    base,
    auth(async (ctx) => {
      const repo = await allowedRepo(deps, ctx, "admin");
      const secrets = await store().list(repo);
      sendJson(ctx.res, 200, { secrets: secrets.map((s) => ({ name: s.name, updatedAt: new Date(s.updatedAt).toISOString() })) });
    }),
  );

  router.add(
    "PUT",
    `${base}/:secret`,
    auth(async (ctx) => {
      const repo = await allowedRepo(deps, ctx, "admin");
      const name = parseInput(SecretName, ctx.params.secret, "secret name");
      const body = parseInput(PutSecretBody, await readJson(ctx.req, 128 * 1024), "secret");
      await store().put(repo, name, body.value);
      sendJson(ctx.res, 200, { name });
    }),
  );

  router.add(
    "DELETE",
    `${base}/:secret`,
    auth(async (ctx) => {
      const repo = await allowedRepo(deps, ctx, "admin");
      const name = parseInput(SecretName, ctx.params.secret, "secret name");
      if (!(await store().delete(repo, name))) throw new NotFoundError(`${repo} has no secret ${name}`);
      sendJson(ctx.res, 200, { name, deleted: true });
    }),
  );
}
