import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { closestMatch } from "../../src/workflow/did-you-mean.js";

/** Folders never searched for a misplaced file: version control, environments, caches. */
const SKIPPED = new Set([".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache"]);
/** Entries looked at when searching the working directory for a file of the same name. */
const SEARCH_LIMIT = 5000;

/**
 * Throws, before any time is spent on the run (a virtualenv, pip), when a file the workflow names
 * (`file`, `requirements`) is not in the code: with where a file of that name is, or the closest
 * name in its folder ("did you mean"), instead of the interpreter's bare "can't open file".
 */
export function assertWorkflowFile(what: string, rel: string, at: { cwd: string; repoDir: string; workingDir?: string }): void {
  const { cwd, workingDir } = at;
  const full = path.resolve(cwd, rel);
  if (existsSync(full) && statSync(full).isFile()) return;
  const where = workingDir === undefined || workingDir === "." ? "in the repository" : `in \`working_dir\` ${workingDir}`;
  const isDir = existsSync(full);
  throw new Error(`${what} ${rel} ${isDir ? "is a folder, not a file," : "does not exist"} ${where}${isDir ? "" : hint(rel, cwd, at.repoDir)}; paths are relative to ${workingDir === undefined || workingDir === "." ? "the repository's root" : "`working_dir`"}`);
}

function hint(rel: string, cwd: string, repoDir: string): string {
  const base = path.basename(rel);
  const elsewhere = findByName(repoDir, base);
  if (elsewhere !== undefined) return ` (the repository has ${elsewhere})`;
  let names: string[];
  try {
    names = readdirSync(path.resolve(cwd, path.dirname(rel)));
  } catch {
    return "";
  }
  const close = closestMatch(base, names);
  return close === undefined ? "" : ` (did you mean ${path.join(path.dirname(rel), close)}?)`;
}

/** The first file named `base` under `root`, breadth first, as a path relative to `root`. */
function findByName(root: string, base: string): string | undefined {
  const queue = [""];
  let seen = 0;
  while (queue.length > 0 && seen < SEARCH_LIMIT) {
    const dir = queue.shift() as string;
    let entries;
    try {
      entries = readdirSync(path.join(root, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      seen += 1;
      const rel = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isFile() && entry.name === base) return rel;
      if (entry.isDirectory() && !SKIPPED.has(entry.name)) queue.push(rel);
    }
  }
  return undefined;
}
