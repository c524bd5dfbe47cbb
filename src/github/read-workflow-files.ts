import { MAX_FILE_BYTES } from "../workflow/index.js";
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
  const files: Array<{ path: string; size?: number }> = [];
  for (const entry of listing as ListingEntry[]) {
    if (entry.type === "file" && /^(workflows|variables|providers)\.ya?ml$/.test(entry.name ?? "")) files.push({ path: entry.path ?? `.dstack/${entry.name}`, size: entry.size });
    if (entry.type === "dir" && entry.name === "workflows") {
      const sub = (await github.request("GET /repos/{owner}/{repo}/contents/{path}", { ...input, path: ".dstack/workflows" })).data;
      if (Array.isArray(sub)) {
        for (const f of sub as ListingEntry[]) {
          if (f.type === "file" && /\.ya?ml$/.test(f.name ?? "")) files.push({ path: f.path ?? `.dstack/workflows/${f.name}`, size: f.size });
        }
      }
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return Promise.all(
    files.map(async ({ path: p, size }): Promise<SourceFile> => {
      // Over the limit it is refused unread; GitHub would not send its content past 1 MB anyway
      // (`encoding: "none"`), which would read as an empty file.
      if (size !== undefined && size > MAX_FILE_BYTES) return { path: p, text: "", sizeBytes: size };
      const data = (await github.request("GET /repos/{owner}/{repo}/contents/{path}", { ...input, path: p })).data as {
        content?: string;
        encoding?: string;
        size?: number;
      };
      if (data.encoding === "none") return { path: p, text: "", sizeBytes: data.size ?? MAX_FILE_BYTES + 1 };
      const text = data.encoding === "base64" ? Buffer.from(data.content ?? "", "base64").toString("utf8") : (data.content ?? "");
      return { path: p, text };
    }),
  );
}

interface ListingEntry {
  type?: string;
  name?: string;
  path?: string;
  size?: number;
}
