import type { Readable } from "node:stream";
import type { Run } from "./types.js";

/** Opens the code a run executes, as a gzipped tarball, with the path components to strip. */
export interface CodeSource {
  open(run: Run): Promise<{ stream: Readable; strip: number }>;
}
