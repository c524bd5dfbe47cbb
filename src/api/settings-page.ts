import type { RequestContext, Router } from "../http/router.js";
import { render } from "../render.js";
import type { SecretStore } from "../runs/secret-store.js";
import { RepoName } from "./v1/schemas.js";
import { formatTime, pageApiAuth, requireUser, sendHtml, type PageAuth } from "./page-response.js";
import { allows, requireRepo } from "./v1/api-auth.js";
import { InvalidInputError } from "../errors.js";

export interface SettingsDeps extends PageAuth {
  secretStore?: Pick<SecretStore, "list">;
  publicUrl: string;
  now?: () => number;
}

/**
 * `/repos/:owner/:name/settings`: the repository's secrets by name and update time (values are
 * write-only: the page's script PUTs and DELETEs them through /api/v1; shown to admins only) and how
 * to set up the CLI. `/settings`: the CLI part alone. People who signed in with GitHub make and
 * revoke personal CLI tokens there; API-token sessions see the `dstack config` command.
 */
export function mountSettingsPage(router: Router, deps: SettingsDeps): void {
  const now = deps.now ?? Date.now;
  const page = async (ctx: RequestContext, repo: string | undefined) => {
    const user = await requireUser(deps, ctx, now());
    if (user === undefined) return;
    const permission = repo === undefined ? undefined : await requireRepo(pageApiAuth(deps, now()), user, repo, "read");
    const secretsAllowed = permission !== undefined && allows(permission, "admin");
    const secrets = deps.secretStore === undefined || !secretsAllowed || repo === undefined ? undefined : await deps.secretStore.list(repo);
    const tokens = user.kind === "github" && deps.users !== undefined ? await deps.users.cliTokens.list(user.login) : [];
    sendHtml(
      ctx,
      200,
      render("settings.html", {
        repo,
        apiBase: repo === undefined ? "" : `/api/v1/repos/${repo}/secrets`,
        secretsAllowed,
        secretsAvailable: secrets !== undefined,
        secrets: (secrets ?? []).map((s) => ({ name: s.name, updated: formatTime(s.updatedAt) })),
        publicUrl: deps.publicUrl,
        githubUser: user.kind === "github" ? user.login : undefined,
        canMakeTokens: user.kind === "github" && user.via === "session",
        tokens: tokens.map((t) => ({ id: t.id, created: formatTime(t.createdAt) })),
      }),
    );
  };
  router.add("GET", "/settings", (ctx) => page(ctx, undefined));
  router.add("GET", "/repos/:owner/:name/settings", async (ctx) => {
    const repo = `${ctx.params.owner ?? ""}/${ctx.params.name ?? ""}`;
    if (!RepoName.safeParse(repo).success) throw new InvalidInputError("bad repository: must be `owner/name`");
    await page(ctx, repo);
  });
}
