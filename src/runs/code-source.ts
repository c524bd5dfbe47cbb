import type { Readable } from "node:stream";
import type { Run } from "./types.js";

/** Opens the code a run executes, as a gzipped tarball, with the path components to strip. */
export interface CodeSource {
  open(run: Run): Promise<{ stream: Readable; strip: number }>;
}

/** Whether the service can fetch a repository at a commit from GitHub, and as which installation. */
export type CommitAccess = { ok: true; installationId: number } | { ok: false; reason: string };
