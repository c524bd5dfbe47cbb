import type { Router } from "../http/router.js";
import { render } from "../render.js";
import type { SecretStore } from "../runs/secret-store.js";
import { RepoName } from "./v1/schemas.js";
import { formatTime, requireUser, sendHtml } from "./page-response.js";
import { InvalidInputError } from "../errors.js";

export interface SettingsDeps {
  secretStore?: Pick<SecretStore, "list">;
  apiToken: string;
  signingKey: Buffer;
  publicUrl: string;
  now?: () => number;
}

/**
 * `/repos/:owner/:name/settings`: the repository's secrets by name and update time (values are
 * write-only: the page's script PUTs and DELETEs them through /api/v1) and how to set up the CLI.
 */
export function mountSettingsPage(router: Router, deps: SettingsDeps): void {
  const now = deps.now ?? Date.now;
  router.add("GET", "/repos/:owner/:name/settings", async (ctx) => {
    if (!requireUser(deps, ctx, now())) return;
    const repo = `${ctx.params.owner ?? ""}/${ctx.params.name ?? ""}`;
    if (!RepoName.safeParse(repo).success) throw new InvalidInputError("bad repository: must be `owner/name`");
    const secrets = deps.secretStore === undefined ? undefined : await deps.secretStore.list(repo);
    sendHtml(
      ctx,
      200,
      render("settings.html", {
        repo,
        apiBase: `/api/v1/repos/${repo}/secrets`,
        secretsAvailable: secrets !== undefined,
        secrets: (secrets ?? []).map((s) => ({ name: s.name, updated: formatTime(s.updatedAt) })),
        publicUrl: deps.publicUrl,
      }),
    );
  });
}
