import { rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { x as untar } from "tar";
import type { AgentClient } from "./client.js";

/**
 * Lays the local changes of a `dstack run` over the commit's code in `dir`: the changed and
 * untracked files (a tar.gz from `/code/overlay`, paths relative to the repository root) replace
 * or add files, then the files deleted locally are removed. tar refuses entries that climb out of
 * `dir`; deletions are checked the same way.
 */
export async function applyOverlay(client: AgentClient, dir: string, deleted: readonly string[]): Promise<void> {
  const res = await client.request("/code/overlay");
  if (res.body === null) throw new Error("the service sent no local changes");
  await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), untar({ cwd: dir, gzip: true }));
  for (const rel of deleted) {
    const target = path.resolve(dir, rel);
    if (path.relative(dir, target).startsWith("..") || path.isAbsolute(path.relative(dir, target))) continue;
    await rm(target, { force: true });
  }
}
