import type { CommitAccess } from "../runs/code-source.js";
import { splitRepo, type GitHubClient } from "./client.js";

/**
 * Whether the app can fetch `repo` at `commit`: it is installed on the repository (asked as the
 * app, `GET /repos/{owner}/{repo}/installation`) and the commit exists there (asked as that
 * installation). The CLI asks first, and uploads the working tree when the answer is no.
 */
export async function checkCommitAccess(
  deps: { app?: () => Promise<GitHubClient>; installation: (installationId: number) => Promise<GitHubClient> },
  repo: string,
  commit: string,
): Promise<CommitAccess> {
  if (deps.app === undefined) return { ok: false, reason: "GitHub is not configured on this service" };
  if (!/^[0-9a-f]{7,64}$/.test(commit)) return { ok: false, reason: `${JSON.stringify(commit)} is not a commit sha` };
  const { owner, repo: name } = splitRepo(repo);
  let installationId: number;
  try {
    const res = await (await deps.app()).request("GET /repos/{owner}/{repo}/installation", { owner, repo: name });
    installationId = (res.data as { id: number }).id;
  } catch (err) {
    return { ok: false, reason: `the GitHub App is not installed on ${repo} (${statusOf(err)})` };
  }
  try {
    await (await deps.installation(installationId)).request("GET /repos/{owner}/{repo}/commits/{ref}", { owner, repo: name, ref: commit });
  } catch (err) {
    return { ok: false, reason: `commit ${commit.slice(0, 12)} is not on GitHub (${statusOf(err)}); push it, or let the CLI upload the working tree` };
  }
  return { ok: true, installationId };
}

function statusOf(err: unknown): string {
  if (typeof err === "object" && err !== null && "status" in err) return `GitHub answered ${String((err as { status: unknown }).status)}`;
  return err instanceof Error ? err.message : String(err);
}
