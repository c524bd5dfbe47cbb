import { ApiClient } from "./api-client.js";
import { loadCliConfig } from "./cli-config.js";
import type { CommandContext } from "./command-context.js";
import { painter, type Paint } from "./format.js";
import { gitRoot, repoOf } from "./git-repo.js";

/** A client of the configured server (DSTACK_URL/DSTACK_TOKEN, else `dstack config`'s file). */
export async function connect(ctx: Pick<CommandContext, "env">): Promise<ApiClient> {
  return new ApiClient(await loadCliConfig(ctx.env));
}

/** The repository a repository-scoped command works on: `--repo`, else the checkout's `origin`. */
export async function currentRepo(ctx: Pick<CommandContext, "cwd">, explicit: string | undefined): Promise<string> {
  if (explicit !== undefined) return repoOf(ctx.cwd, explicit);
  return repoOf(await gitRoot(ctx.cwd, "or pass the repository as --repo owner/name"), undefined);
}

/** Colours for stdout (or stderr) when it is a terminal and NO_COLOR is unset. */
export function paintFor(ctx: Pick<CommandContext, "tty" | "env">, stream: "out" | "err" = "out"): Paint {
  return painter(ctx.tty[stream] && (ctx.env.NO_COLOR ?? "") === "");
}

export function repoPath(repo: string): string {
  const [owner = "", name = ""] = repo.split("/");
  return `/api/v1/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}
