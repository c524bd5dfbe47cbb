import { lstat } from "node:fs/promises";
import path from "node:path";
import { c as createTar } from "tar";
import { InvalidInputError } from "../errors.js";
import { MAX_CODE_UPLOAD_BYTES } from "../runs/code-upload.js";
import { formatBytes } from "./format.js";

/** What `dstack run` sends of the local files: at most this much before compression (the service's own limit applies after). */
export const MAX_PACKED_BYTES = MAX_CODE_UPLOAD_BYTES;

/**
 * A gzipped tar of `files` (paths relative to `root`), refused before packing when they add up to
 * more than the upload limit, with the biggest ones named so the user knows what to ignore.
 */
export async function packFiles(root: string, files: readonly string[], what: string): Promise<{ tarball: Buffer; sizeBytes: number }> {
  const sizes = await Promise.all(files.map(async (f) => ({ file: f, size: (await lstat(path.join(root, f))).size })));
  const total = sizes.reduce((n, s) => n + s.size, 0);
  if (total > MAX_PACKED_BYTES) {
    const biggest = [...sizes]
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map((s) => `${s.file} (${formatBytes(s.size)})`)
      .join(", ");
    throw new InvalidInputError(
      `${what} is ${formatBytes(total)}, over the ${MAX_PACKED_BYTES / (1024 * 1024)} MiB upload limit; the biggest files: ${biggest}. Add them to .gitignore, or commit and push`,
      "too_large",
    );
  }
  const chunks: Buffer[] = [];
  if (files.length > 0) {
    for await (const chunk of createTar({ gzip: true, cwd: root, portable: true, noDirRecurse: true }, [...files])) chunks.push(chunk as Buffer);
  } else {
    for await (const chunk of createTar({ gzip: true, cwd: root, portable: true }, [])) chunks.push(chunk as Buffer);
  }
  return { tarball: Buffer.concat(chunks), sizeBytes: total };
}
