import { DstackError, ForbiddenError, NotFoundError } from "../../errors.js";
import { readJson, sendJson, type RequestContext, type Router } from "../../http/router.js";
import type { GitHubIdentity } from "../../github/permissions.js";
import { cliTokenRequest, CreateCliTokenBody } from "../cli-token-request.js";
import type { CliTokenInfo } from "../cli-tokens.js";
import type { UserAccess } from "../user-access.js";
import { principalOf, requireApiToken, type Principal } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { parseInput } from "./schemas.js";

/**
 * Personal CLI tokens of the signed-in GitHub user: listed by creation date with their labels,
 * expiry and last use, created (the token is in the answer once, then only its hash is kept), revoked.
 * Each acts with its user's GitHub permissions. Only a browser session makes them: a CLI token cannot
 * mint more of itself. A CLI token may list its user's tokens and revoke them (itself included), which
 * only ever takes access away (`dstack tokens`). The service's API token belongs to no user.
 */
export function mountUserTokensRoutes(router: Router, deps: ApiV1Deps): void {
  const base = "/api/v1/user/tokens";
  const user = (ctx: RequestContext, allowCliToken = false): { users: UserAccess; who: GitHubIdentity; tokenId?: string } => {
    const users = deps.users;
    if (users === undefined) throw new DstackError("unavailable", "this service has no \"Sign in with GitHub\" (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are not set); use the API token");
    const principal: Principal = principalOf(ctx);
    if (principal.kind !== "github") throw new ForbiddenError("personal CLI tokens belong to people who signed in with GitHub; the service's API token is already a CLI token");
    if (principal.via !== "session" && !allowCliToken) throw new ForbiddenError("personal CLI tokens are made in the browser (the settings page), not with another CLI token");
    return { users, who: { login: principal.login, id: principal.userId }, tokenId: principal.via === "cli-token" ? principal.tokenId : undefined };
  };
  const now = () => deps.now?.() ?? Date.now();
  const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
  /** `current`: the token this request carries. Old tokens without a label list it as "", their implied expiry as `expiryImplied`. */
  const json = (t: CliTokenInfo, tokenId?: string) => ({
    id: t.id,
    label: t.label,
    createdAt: iso(t.createdAt),
    expiresAt: iso(t.expiresAt),
    expired: t.expiresAt !== null && t.expiresAt <= now(),
    expiryImplied: t.expiryImplied === true,
    lastUsedAt: iso(t.lastUsedAt),
    current: t.id === tokenId,
  });

  router.add(
    "GET",
    base,
    requireApiToken(deps, async (ctx) => {
      const { users, who, tokenId } = user(ctx, true);
      sendJson(ctx.res, 200, { login: who.login, tokens: (await users.cliTokens.list(who)).map((t) => json(t, tokenId)) });
    }),
  );

  router.add(
    "POST",
    base,
    requireApiToken(deps, async (ctx) => {
      const { users, who } = user(ctx);
      const body = parseInput(CreateCliTokenBody, await readJson(ctx.req, 16 * 1024), "token request");
      const { token, info } = await users.cliTokens.create(who, cliTokenRequest(body, now()));
      sendJson(ctx.res, 201, { ...json(info), login: who.login, token });
    }),
  );

  router.add(
    "DELETE",
    `${base}/:id`,
    requireApiToken(deps, async (ctx) => {
      const { users, who } = user(ctx, true);
      const id = ctx.params.id ?? "";
      if (!(await users.cliTokens.revoke(who, id))) throw new NotFoundError(`you have no CLI token ${JSON.stringify(id)}`);
      sendJson(ctx.res, 200, { id, revoked: true });
    }),
  );
}
