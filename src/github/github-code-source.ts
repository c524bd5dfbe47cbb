import { Readable } from "node:stream";
import { DstackError } from "../errors.js";
import type { CodeSource } from "../runs/code-source.js";
import type { Run } from "../runs/types.js";
import { splitRepo, type GitHubClientFactory } from "./client.js";

/**
 * Streams a run's code from GitHub's tarball endpoint through the installation's client, so the
 * agent never holds a GitHub credential. The request passes the installation's rate gate like
 * every other one (none inside a back-off window), and the client's request hook authenticates it
 * on the configured API host: Probot's `octokit.auth({ type: "installation" })`, called directly,
 * fetches a token it has not cached from api.github.com whatever GHE_HOST says.
 * GitHub's tarballs have one top-level folder (strip 1).
 */
export function createGitHubCodeSource(deps: { github: GitHubClientFactory; fallback?: CodeSource }): CodeSource {
  return {
    async open(run: Run) {
      if (run.code.kind !== "github") {
        if (deps.fallback === undefined) throw new DstackError("not_found", "this run's code was uploaded, and no upload store is configured");
        return deps.fallback.open(run);
      }
      if (run.installationId === undefined) throw new DstackError("not_found", `run ${run.id} has no GitHub installation to fetch code with`);
      const github = await deps.github(run.installationId);
      const { owner, repo } = splitRepo(run.repo);
      // The redirect to the archive host is followed; the body is left unread, to be streamed.
      const res = await github.request("GET /repos/{owner}/{repo}/tarball/{ref}", { owner, repo, ref: run.commit, request: { parseSuccessResponseBody: false } });
      if (!(res.data instanceof ReadableStream)) {
        throw new DstackError("unavailable", `GitHub answered ${res.status} without a body for the code of ${run.repo}@${run.commit.slice(0, 12)}`);
      }
      return { stream: Readable.fromWeb(res.data as import("node:stream/web").ReadableStream), strip: 1 };
    },
  };
}
