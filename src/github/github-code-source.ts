import { Readable } from "node:stream";
import { DstackError } from "../errors.js";
import type { CodeSource } from "../runs/code-source.js";
import type { Run } from "../runs/types.js";
import { splitRepo } from "./client.js";

/**
 * Streams a run's code from GitHub's tarball endpoint with a short-lived installation token, so
 * the agent never holds a GitHub credential. GitHub's tarballs have one top-level folder (strip 1).
 */
export function createGitHubCodeSource(deps: {
  apiBaseUrl: string;
  installationToken(installationId: number): Promise<string>;
  fallback?: CodeSource;
}): CodeSource {
  return {
    async open(run: Run) {
      if (run.code.kind !== "github") {
        if (deps.fallback === undefined) throw new DstackError("not_found", "this run's code was uploaded, and no upload store is configured");
        return deps.fallback.open(run);
      }
      if (run.installationId === undefined) throw new DstackError("not_found", `run ${run.id} has no GitHub installation to fetch code with`);
      const token = await deps.installationToken(run.installationId);
      const { owner, repo } = splitRepo(run.repo);
      const url = `${deps.apiBaseUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/tarball/${encodeURIComponent(run.commit)}`;
      const res = await fetch(url, {
        headers: { authorization: `token ${token}`, accept: "application/vnd.github+json", "user-agent": "dstack-app" },
        redirect: "follow",
      });
      if (!res.ok || res.body === null) {
        throw new DstackError("unavailable", `GitHub answered ${res.status} for the code of ${run.repo}@${run.commit.slice(0, 12)}`);
      }
      return { stream: Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), strip: 1 };
    },
  };
}
