import { stat } from "node:fs/promises";
import path from "node:path";

/**
 * The folder whose `.dstack/` a command run in `cwd` means, found the way git finds `.git`: `cwd`
 * itself first, then each parent, stopping after the repository's top folder (the one holding `.git`,
 * a folder, or a file in a worktree or submodule) or the file system's root, so a `.dstack/` of an
 * enclosing folder outside the repository is never picked up. Undefined when none holds `.dstack/`.
 */
export async function findDstackRoot(cwd: string): Promise<string | undefined> {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if ((await stat(path.join(dir, ".dstack")).catch(() => undefined))?.isDirectory() === true) return dir;
    const atRepoTop = (await stat(path.join(dir, ".git")).catch(() => undefined)) !== undefined;
    if (atRepoTop || path.dirname(dir) === dir) return undefined;
  }
}

/**
 * A path relative to `root` (`.dstack/workflows.yaml`, or a `file:line:col: ...` line that starts
 * with one) as the user standing in `cwd` can click or open it (`../.dstack/workflows.yaml` from a
 * subfolder); unchanged when `root` is `cwd`. Prefixed, not normalised, so the rest of a line is kept.
 */
export function pathFromCwd(cwd: string, root: string, file: string): string {
  const up = path.relative(path.resolve(cwd), path.resolve(root));
  return up === "" ? file : `${up}${path.sep}${file}`;
}
