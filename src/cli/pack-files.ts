import { lstat } from "node:fs/promises";
import path from "node:path";
import { c as createTar } from "tar";
import { InvalidInputError } from "../errors.js";
import { MAX_CODE_UPLOAD_BYTES } from "../runs/code-upload.js";
import { formatBytes } from "./format.js";

/**
 * The service's default code upload limit (`DSTACK_MAX_CODE_UPLOAD_BYTES`). The CLI cannot know the
 * limit of the service it talks to (no endpoint states it), so this is a pre-check only: files adding
 * up to more are still sent, with a warning naming the biggest, and the service's 413 decides. The
 * service counts the gzipped bytes, which are often far fewer.
 */
export const DEFAULT_UPLOAD_LIMIT_BYTES = MAX_CODE_UPLOAD_BYTES;

/** Past this the CLI refuses to pack at all: the tarball is built in memory before it is sent. */
export const LOCAL_PACK_LIMIT_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * A gzipped tar of `files` (paths relative to `root`); `warning` when they add up to more than the
 * default upload limit, with the biggest ones named so the user knows what to ignore if the service
 * refuses them.
 */
export async function packFiles(root: string, files: readonly string[], what: string): Promise<{ tarball: Buffer; sizeBytes: number; warning?: string }> {
  const sizes = await Promise.all(files.map(async (f) => ({ file: f, size: (await lstat(path.join(root, f))).size })));
  const total = sizes.reduce((n, s) => n + s.size, 0);
  let warning: string | undefined;
  if (total > DEFAULT_UPLOAD_LIMIT_BYTES) {
    const biggest = [...sizes]
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map((s) => `${s.file} (${formatBytes(s.size)})`)
      .join(", ");
    if (total > LOCAL_PACK_LIMIT_BYTES) {
      throw new InvalidInputError(
        `${what} is ${formatBytes(total)}, more than the ${formatBytes(LOCAL_PACK_LIMIT_BYTES)} this CLI packs (the biggest files: ${biggest}). Add them to .gitignore, or commit and push`,
        "too_large",
      );
    }
    warning =
      `${what} is ${formatBytes(total)}, over the default ${DEFAULT_UPLOAD_LIMIT_BYTES / (1024 * 1024)} MiB upload limit (the biggest files: ${biggest}); ` +
      "sending it anyway: the service's DSTACK_MAX_CODE_UPLOAD_BYTES decides, on the gzipped size. If it is refused, add them to .gitignore, or commit and push";
  }
  const chunks: Buffer[] = [];
  if (files.length > 0) {
    for await (const chunk of createTar({ gzip: true, cwd: root, portable: true, noDirRecurse: true }, [...files])) chunks.push(chunk as Buffer);
  } else {
    for await (const chunk of createTar({ gzip: true, cwd: root, portable: true }, [])) chunks.push(chunk as Buffer);
  }
  return { tarball: Buffer.concat(chunks), sizeBytes: total, warning };
}
