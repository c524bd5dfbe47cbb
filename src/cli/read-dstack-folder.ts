import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { NotFoundError } from "../errors.js";
import type { SourceFile } from "../workflow/index.js";
import { FileReadError } from "./file-read-error.js";

/** The files of `.dstack/` the workflow model reads; the same set the service reads at a commit (src/github/read-workflow-files.ts). */
const TOP_LEVEL = /^(workflows|variables|providers)\.ya?ml$/;
const IN_WORKFLOWS = /\.ya?ml$/;

/**
 * Reads `DIR/.dstack/`: `workflows.yaml`, `workflows/*.yaml`, `variables.yaml` and `providers.yaml`
 * (`.yml` too), whichever exist, as `SourceFile`s with paths relative to DIR (`.dstack/workflows.yaml`),
 * sorted like the service sorts them, so problems come out in the same order.
 *
 * `label` names DIR in messages (as the user wrote it).
 * @throws NotFoundError when DIR, or `.dstack/` in it, does not exist, or `.dstack/` holds none of those files.
 * @throws FileReadError when a file is there but cannot be read.
 */
export async function readDstackFolder(dir: string, label: string): Promise<SourceFile[]> {
  const dirStat = await stat(dir).catch((error: unknown) => {
    if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) throw new NotFoundError(`${label} does not exist`);
    throw new FileReadError(dir, error);
  });
  if (!dirStat.isDirectory()) throw new NotFoundError(`${label} is not a directory`);

  const dstack = path.join(dir, ".dstack");
  const top = await list(dstack);
  if (top === undefined) throw new NotFoundError(`no \`.dstack/\` folder in ${label}: nothing to validate (pass the repository's directory: \`dstack validate DIR\`)`);

  const paths: string[] = [];
  for (const entry of top) {
    if (TOP_LEVEL.test(entry.name) && (await isFile(dstack, entry))) paths.push(`.dstack/${entry.name}`);
    if (entry.name === "workflows" && !(await isFile(dstack, entry))) {
      for (const sub of (await list(path.join(dstack, "workflows"))) ?? []) {
        if (IN_WORKFLOWS.test(sub.name) && (await isFile(path.join(dstack, "workflows"), sub))) paths.push(`.dstack/workflows/${sub.name}`);
      }
    }
  }
  if (paths.length === 0) {
    throw new NotFoundError(`\`.dstack/\` in ${label} has no workflows.yaml, workflows/*.yaml, variables.yaml or providers.yaml: nothing to validate`);
  }
  paths.sort();
  return Promise.all(
    paths.map(async (p) => {
      const text = await readFile(path.join(dir, p), "utf8").catch((error: unknown) => {
        throw new FileReadError(p, error);
      });
      return { path: p, text };
    }),
  );
}

/** A folder's entries; undefined when it does not exist (or is not a folder). */
async function list(folder: string): Promise<Dirent[] | undefined> {
  try {
    return await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, "ENOENT") || isCode(error, "ENOTDIR")) return undefined;
    throw new FileReadError(folder, error);
  }
}

/** True for a file, or a link to one (a dangling link is not a file). */
async function isFile(folder: string, entry: Dirent): Promise<boolean> {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  const target = await stat(path.join(folder, entry.name)).catch(() => undefined);
  return target?.isFile() ?? false;
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
