import { execFile } from "node:child_process";
import { lstat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { InvalidInputError, NotFoundError } from "../errors.js";

const run = promisify(execFile);

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" });
  return stdout;
}

/**
 * The top folder of the Git checkout that holds `cwd`. `orElse` is the way around a checkout that a
 * command has ("or pass the repository as --repo owner/name"), added to the refusal.
 */
export async function gitRoot(cwd: string, orElse?: string): Promise<string> {
  try {
    return (await git(cwd, ["rev-parse", "--show-toplevel"])).trim();
  } catch (err) {
    const missing = err instanceof Error && "code" in err && err.code === "ENOENT";
    const alternative = orElse === undefined ? "" : `, ${orElse}`;
    throw new NotFoundError(missing ? `git is not installed: \`dstack\` needs it to find the repository${alternative}` : `not inside a Git repository: run dstack in a checkout of the repository${alternative}`);
  }
}

/** `owner/name` from a remote URL: its last two path segments, any host (DESIGN.md §7). */
export function repoFromRemoteUrl(url: string): string | undefined {
  const parts = url
    .trim()
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .split(/[/:]/)
    .filter((p) => p !== "");
  const [owner, name] = parts.slice(-2);
  if (owner === undefined || name === undefined || parts.length < 2) return undefined;
  return /^[A-Za-z0-9_.-]+$/.test(owner) && /^[A-Za-z0-9_.-]+$/.test(name) ? `${owner}/${name}` : undefined;
}

/** The repository of the checkout: `--repo`, else the `origin` remote's. */
export async function repoOf(root: string, explicit: string | undefined): Promise<string> {
  if (explicit !== undefined) {
    if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(explicit)) throw new InvalidInputError(`--repo ${JSON.stringify(explicit)} is not owner/name`);
    return explicit;
  }
  let url: string;
  try {
    url = (await git(root, ["remote", "get-url", "origin"])).trim();
  } catch {
    throw new InvalidInputError("this checkout has no `origin` remote: pass the repository as --repo owner/name");
  }
  const repo = repoFromRemoteUrl(url);
  if (repo === undefined) throw new InvalidInputError(`cannot tell owner/name from the origin remote ${JSON.stringify(url)}: pass --repo owner/name`);
  return repo;
}

/** The checked-out commit, or undefined in a repository without commits. */
export async function headCommit(root: string): Promise<string | undefined> {
  try {
    return (await git(root, ["rev-parse", "--verify", "--quiet", "HEAD"])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The current branch name, if on one. */
export async function currentBranch(root: string): Promise<string | undefined> {
  try {
    return (await git(root, ["symbolic-ref", "--quiet", "--short", "HEAD"])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Tracked and untracked files that are not ignored, as they are on disk (deleted ones left out), sorted. */
export async function workingTreeFiles(root: string): Promise<string[]> {
  const listed = (await git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])).split("\0").filter((p) => p !== "");
  return existing(root, [...new Set(listed)].sort());
}

/** The local changes against HEAD: files changed, added or untracked (not ignored), and files deleted. */
export async function localChanges(root: string): Promise<{ changed: string[]; deleted: string[] }> {
  const fields = (await git(root, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"])).split("\0");
  const changed: string[] = [];
  const deleted: string[] = [];
  for (const field of fields) {
    if (field.length < 4) continue;
    const xy = field.slice(0, 2);
    const file = field.slice(3);
    if (xy.includes("D")) deleted.push(file);
    else changed.push(file);
  }
  return { changed: await existing(root, changed.sort()), deleted: deleted.sort() };
}

/** Regular files and links only: a submodule or a folder is not packed. */
async function existing(root: string, files: string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const f of files) {
    const st = await lstat(path.join(root, f)).catch(() => undefined);
    if (st !== undefined && (st.isFile() || st.isSymbolicLink())) kept.push(f);
  }
  return kept;
}
