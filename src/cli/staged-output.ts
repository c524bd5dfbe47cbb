import { rmdirSync, rmSync } from "node:fs";
import { lstat, mkdir, mkdtemp, rename, rm, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { FileWriteError, isFileSystemError } from "./file-write-error.js";

/**
 * Where a command writes several files that must arrive all or none (`dstack artifacts download -o
 * DIR`): DIR is made (and proven writable) before any byte is fetched, the files are written into a
 * hidden staging folder inside it, and only when all of them are complete are they moved to their
 * places. On failure, `discard` removes the staging folder and the folders this made, so no partial
 * file is left behind.
 */
export class StagedOutput {
  private constructor(
    readonly dir: string,
    /** The staging folder, inside `dir` (same file system, so the final moves are renames). */
    private readonly staging: string,
    /** Folders made for `dir`, deepest first, removed again by `discard` when still empty. */
    private readonly made: readonly string[],
  ) {}

  /**
   * Makes `dir` and its missing parents one level at a time, then a staging folder in it. Node's
   * recursive mkdir never returns on a path such as `/proc/x` (procfs answers ENOENT, which it takes
   * for a missing parent and retries), hence the walk.
   * @throws FileWriteError when `dir` or a folder on the way is a file, or cannot be made or written.
   */
  static async open(dir: string): Promise<StagedOutput> {
    const made = await makeFolders(dir);
    try {
      return new StagedOutput(dir, await mkdtemp(path.join(dir, ".dstack-download-")), made);
    } catch (err) {
      await removeEmpty(made);
      throw writeError(dir, err);
    }
  }

  /** Where to write the file whose final place is `rel` under `dir`; its folder is made. */
  async stagedPath(rel: string): Promise<string> {
    const target = path.join(this.staging, rel);
    await mkdir(path.dirname(target), { recursive: true }).catch((err: unknown) => {
      throw writeError(path.join(this.dir, rel), err);
    });
    return target;
  }

  /**
   * Moves every staged file (`rels`, paths under `dir`) to its place, after checking that none of the
   * places is blocked (a file where a folder must go, a folder where the file must go), so a blocked
   * place fails the whole command before anything is moved. A file already at a place is replaced.
   */
  async commit(rels: readonly string[]): Promise<void> {
    for (const rel of rels) await this.checkPlace(rel);
    for (const rel of rels) {
      const target = path.join(this.dir, rel);
      try {
        await mkdir(path.dirname(target), { recursive: true });
        await rename(path.join(this.staging, rel), target);
      } catch (err) {
        throw writeError(target, err);
      }
    }
    await rm(this.staging, { recursive: true, force: true });
  }

  /** Removes the staging folder with whatever it holds, and the folders `open` made. Never throws. */
  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true }).catch(() => undefined); // best effort: the error that stopped the command matters more
    await removeEmpty(this.made);
  }

  /**
   * {@link discard} for a process about to exit (Ctrl-C): synchronous, since no later turn of the event
   * loop comes. Files still open for writing are unlinked with their folder. Never throws.
   */
  discardNow(): void {
    try {
      rmSync(this.staging, { recursive: true, force: true });
    } catch {
      // best effort: the process is exiting, and a leftover staging folder is all that can remain
    }
    for (const folder of this.made) {
      try {
        rmdirSync(folder);
      } catch {
        // not empty or gone: leave it
      }
    }
  }

  private async checkPlace(rel: string): Promise<void> {
    const parts = rel.split(/[\\/]+/);
    for (let i = 1; i <= parts.length; i++) {
      const at = path.join(this.dir, ...parts.slice(0, i));
      const st = await lstat(at).catch(() => undefined);
      if (st === undefined) return;
      const last = i === parts.length;
      if (!last && !st.isDirectory()) throw writeError(path.join(this.dir, rel), errno("ENOTDIR"));
      if (last && st.isDirectory()) throw writeError(at, errno("EISDIR"));
    }
  }
}

/** Makes `dir` and its missing parents, top down; returns those it made, deepest first. */
async function makeFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    const st = await stat(at).catch((err: unknown) => {
      // ENOTDIR: a file on the way, found (and named) a level up.
      if (isFileSystemError(err) && (err.code === "ENOENT" || err.code === "ENOTDIR")) return undefined;
      throw writeError(at, err);
    });
    if (st !== undefined) {
      if (!st.isDirectory()) throw writeError(at, errno(at === path.resolve(dir) ? "EEXIST" : "ENOTDIR"));
      break;
    }
    missing.push(at);
    if (path.dirname(at) === at) break;
    at = path.dirname(at);
  }
  const made: string[] = [];
  for (const folder of missing.reverse()) {
    try {
      await mkdir(folder);
    } catch (err) {
      await removeEmpty(made);
      throw writeError(folder, err);
    }
    made.unshift(folder);
  }
  return made;
}

/** Removes the folders, deepest first, that are still empty; a folder something else wrote into stays. */
async function removeEmpty(folders: readonly string[]): Promise<void> {
  for (const folder of folders) await rmdir(folder).catch(() => undefined); // not empty or gone: leave it
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code, syscall: "mkdir" });
}

function writeError(at: string, err: unknown): Error {
  return isFileSystemError(err) ? new FileWriteError(at, err) : (err as Error);
}
