import { DstackError, ForbiddenError, NotFoundError } from "../../errors.js";
import { sendJson, type RequestContext, type Router } from "../../http/router.js";
import type { UserAccess } from "../user-access.js";
import { principalOf, requireApiToken, type Principal } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";

/**
 * Personal CLI tokens of the signed-in GitHub user: listed by creation date, created (the token is
 * in the answer once, then only its hash is kept), revoked. Each acts with its user's GitHub
 * permissions. Only a browser session manages them: a CLI token cannot mint more of itself, and the
 * service's API token belongs to no user.
 */
export function mountUserTokensRoutes(router: Router, deps: ApiV1Deps): void {
  const base = "/api/v1/user/tokens";
  const user = (ctx: RequestContext): { users: UserAccess; login: string } => {
    const users = deps.users;
    if (users === undefined) throw new DstackError("unavailable", "this service has no \"Sign in with GitHub\" (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are not set); use the API token");
    const principal: Principal = principalOf(ctx);
    if (principal.kind !== "github") throw new ForbiddenError("personal CLI tokens belong to people who signed in with GitHub; the service's API token is already a CLI token");
    if (principal.via !== "session") throw new ForbiddenError("personal CLI tokens are managed in the browser (the settings page), not with another CLI token");
    return { users, login: principal.login };
  };
  const json = (t: { id: string; createdAt: number }) => ({ id: t.id, createdAt: new Date(t.createdAt).toISOString() });

  router.add(
    "GET",
    base,
    requireApiToken(deps, async (ctx) => {
      const { users, login } = user(ctx);
      sendJson(ctx.res, 200, { login, tokens: (await users.cliTokens.list(login)).map(json) });
    }),
  );

  router.add(
    "POST",
    base,
    requireApiToken(deps, async (ctx) => {
      const { users, login } = user(ctx);
      const { token, info } = await users.cliTokens.create(login);
      sendJson(ctx.res, 201, { ...json(info), login, token });
    }),
  );

  router.add(
    "DELETE",
    `${base}/:id`,
    requireApiToken(deps, async (ctx) => {
      const { users, login } = user(ctx);
      const id = ctx.params.id ?? "";
      if (!(await users.cliTokens.revoke(login, id))) throw new NotFoundError(`you have no CLI token ${JSON.stringify(id)}`);
      sendJson(ctx.res, 200, { id, revoked: true });
    }),
  );
}
