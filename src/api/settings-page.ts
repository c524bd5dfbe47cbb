import type { RequestContext, Router } from "../http/router.js";
import { render } from "../render.js";
import type { SecretStore } from "../runs/secret-store.js";
import { RepoName } from "./v1/schemas.js";
import { formatTime, pageApiAuth, requireUser, sendHtml, type PageAuth } from "./page-response.js";
import { allows, requireRepo } from "./v1/api-auth.js";
import { InvalidInputError } from "../errors.js";
import { DEFAULT_CLI_TOKEN_EXPIRY, parseExpiresIn } from "./cli-token-request.js";

export interface SettingsDeps extends PageAuth {
  secretStore?: Pick<SecretStore, "list">;
  publicUrl: string;
  now?: () => number;
}

/**
 * `/repos/:owner/:name/settings`: the repository's secrets by name and update time (values are
 * write-only: the page's script PUTs and DELETEs them through /api/v1; shown to admins only) and how
 * to set up the CLI. `/settings`: the CLI part alone. People who signed in with GitHub make and
 * revoke personal CLI tokens there (with a label and an expiry, listed with their last use);
 * API-token sessions see the `dstack config` command.
 */
/** The expiry choices of the token form, the one asked for (`?token-expires-in=`, else 90 days) selected. */
function tokenExpiryChoices(asked: string | null): Array<{ value: string; text: string; selected: boolean }> {
  const choices = [
    { value: "7d", text: "7 days" },
    { value: "30d", text: "30 days" },
    { value: DEFAULT_CLI_TOKEN_EXPIRY, text: "90 days" },
    { value: "365d", text: "1 year" },
    { value: "never", text: "never (not recommended)" },
  ];
  const wanted = asked ?? DEFAULT_CLI_TOKEN_EXPIRY;
  if (!choices.some((c) => c.value === wanted) && isExpiresIn(wanted)) choices.unshift({ value: wanted, text: wanted });
  return choices.map((c) => ({ ...c, selected: c.value === wanted }));
}

function isExpiresIn(text: string): boolean {
  try {
    parseExpiresIn(text);
    return true;
  } catch {
    return false; // not an expiry: the page offers its own choices
  }
}

export function mountSettingsPage(router: Router, deps: SettingsDeps): void {
  const now = deps.now ?? Date.now;
  const page = async (ctx: RequestContext, repo: string | undefined) => {
    const user = await requireUser(deps, ctx, now());
    if (user === undefined) return;
    const permission = repo === undefined ? undefined : await requireRepo(pageApiAuth(deps, now()), user, repo, "read");
    const secretsAllowed = permission !== undefined && allows(permission, "admin");
    const secrets = deps.secretStore === undefined || !secretsAllowed || repo === undefined ? undefined : await deps.secretStore.list(repo);
    const tokens = user.kind === "github" && deps.users !== undefined ? await deps.users.cliTokens.list({ login: user.login, id: user.userId }) : [];
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
        tokens: tokens.map((t) => ({
          id: t.id,
          label: t.label,
          created: formatTime(t.createdAt),
          expires: t.expiresAt === null ? "no expiry" : formatTime(t.expiresAt),
          expiryImplied: t.expiryImplied === true,
          expired: t.expiresAt !== null && t.expiresAt <= now(),
          lastUsed: t.lastUsedAt === undefined ? "never" : formatTime(t.lastUsedAt),
        })),
        // `dstack login` sends the user here with the label and expiry it was asked for.
        tokenLabel: ctx.url.searchParams.get("token-label") ?? "",
        tokenExpiresIn: tokenExpiryChoices(ctx.url.searchParams.get("token-expires-in")),
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
