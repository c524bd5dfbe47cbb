import type { SourceFile } from "../workflow/types.js";
import { statusOf, type GitHubClient } from "./client.js";

/**
 * Reads `.dstack/` at a commit through the contents API: workflows.yaml, workflows/*.yaml,
 * variables.yaml and providers.yaml, whichever exist.
 */
export async function readWorkflowFiles(github: GitHubClient, input: { owner: string; repo: string; ref: string }): Promise<SourceFile[]> {
  let listing: unknown;
  try {
    listing = (await github.request("GET /repos/{owner}/{repo}/contents/{path}", { ...input, path: ".dstack" })).data;
  } catch (err) {
    if (statusOf(err) === 404) return [];
    throw err;
  }
  if (!Array.isArray(listing)) return [];
  const paths: string[] = [];
  for (const entry of listing as Array<{ type?: string; name?: string; path?: string }>) {
    if (entry.type === "file" && /^(workflows|variables|providers)\.ya?ml$/.test(entry.name ?? "")) paths.push(entry.path ?? `.dstack/${entry.name}`);
    if (entry.type === "dir" && entry.name === "workflows") {
      const sub = (await github.request("GET /repos/{owner}/{repo}/contents/{path}", { ...input, path: ".dstack/workflows" })).data;
      if (Array.isArray(sub)) {
        for (const f of sub as Array<{ type?: string; name?: string; path?: string }>) {
          if (f.type === "file" && /\.ya?ml$/.test(f.name ?? "")) paths.push(f.path ?? `.dstack/workflows/${f.name}`);
        }
      }
    }
  }
  paths.sort();
  return Promise.all(
    paths.map(async (p) => {
      const data = (await github.request("GET /repos/{owner}/{repo}/contents/{path}", { ...input, path: p })).data as {
        content?: string;
        encoding?: string;
      };
      const text = data.encoding === "base64" ? Buffer.from(data.content ?? "", "base64").toString("utf8") : (data.content ?? "");
      return { path: p, text };
    }),
  );
}
