import { runArtifactKey, trustedArtifacts, type ArtifactStore } from "../artifacts/index.js";
import { formatBytes, isImage } from "../runs/run-view.js";
import type { Run } from "../runs/types.js";

/** Artifact links in summaries and comments: at most this many, valid this long (S3's maximum). */
const MAX_LINKS = 50;
export const LINK_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Download links (presigned or signed, 7 days) for the first `MAX_LINKS` artifact files of a run,
 * as its manifest lists them (the run record is not trusted for what is in the store).
 */
export async function artifactLinks(deps: { artifacts: ArtifactStore }, run: Run) {
  const files = await trustedArtifacts(deps, run.id);
  const shown = files.slice(0, MAX_LINKS);
  const links = await Promise.all(
    shown.map(async (a) => ({
      path: a.path,
      size: formatBytes(a.sizeBytes),
      image: isImage(a.path),
      url: await deps.artifacts.downloadUrl(runArtifactKey(run.id, a.path), {
        expiresInSeconds: LINK_TTL_SECONDS,
        fileName: a.path.split("/").pop(),
      }),
    })),
  );
  return { links, omitted: files.length - shown.length };
}

export function runUrl(publicUrl: string, runId: string): string {
  return `${publicUrl}/runs/${runId}`;
}

