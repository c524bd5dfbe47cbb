import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * What a requirements file installs, as a digest for the python environment cache: its text, the
 * text of the files it includes (`-r`, `-c`), and the bytes of the local packages it points at
 * (`--find-links DIR`, `./pkg.whl`, `file:` and folder requirements). Hashing the text alone reused
 * a stale environment when a commit changed only a wheel in the repository or an included file.
 * Remote indexes and URLs are not followed: a pinned remote requirement is identified by its text.
 *
 * Paths resolve as pip resolves them: `-r`, `-c` relative to the including file; `--find-links`
 * relative to the requirements file when that exists, else to `cwd`; requirement paths to `cwd`.
 * Anything missing is recorded as missing (pip then reports it), never an error here.
 */
export async function fingerprintRequirements(requirementsFile: string, cwd: string): Promise<string> {
  const hash = createHash("sha256");
  const seen = new Set<string>();
  await addRequirementsFile(hash, path.resolve(cwd, requirementsFile), cwd, seen);
  return hash.digest("hex");
}

/** Options whose value is another requirements or constraints file. */
const FILE_OPTIONS = new Set(["-r", "--requirement", "-c", "--constraint"]);
const FIND_LINKS = new Set(["-f", "--find-links"]);
/** Options that take the requirement that follows (`-e ./pkg`). */
const EDITABLE = new Set(["-e", "--editable"]);
/** Folders never part of a package's inputs (and often huge). */
const SKIPPED_DIRS = new Set([".git", "__pycache__", "node_modules", ".venv", "venv"]);

async function addRequirementsFile(hash: Hash, file: string, cwd: string, seen: Set<string>): Promise<void> {
  // Paths relative to the run's folder: the same commit in another run's folder is the same key.
  hash.update(`requirements ${path.relative(cwd, file)}\0`);
  if (seen.has(file)) return; // pip refuses include cycles itself; hashing each file once is enough
  seen.add(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    hash.update("missing\0");
    return;
  }
  hash.update(text).update("\0");
  for (const line of logicalLines(text)) {
    const words = line.split(/\s+/).filter((w) => w !== "");
    for (let i = 0; i < words.length; i++) {
      const { option, value, consumed } = splitOption(words, i);
      if (option === undefined) {
        // A requirement: the rest of its line is markers and per-requirement options (`--hash`).
        // `name @ ./path` (PEP 508) names its path third.
        if (i === 0) await addLocalRequirement(hash, (words[1] === "@" ? words[2] : words[0]) ?? "", cwd);
        break;
      }
      i += consumed;
      if (value === undefined) continue;
      if (FILE_OPTIONS.has(option)) await addRequirementsFile(hash, path.resolve(path.dirname(file), value), cwd, seen);
      else if (FIND_LINKS.has(option)) await addFindLinks(hash, value, path.dirname(file), cwd);
      else if (EDITABLE.has(option)) {
        // An editable install links to this very folder, which is the run's own: an environment
        // holding it must not serve another run, so the folder is part of the key.
        hash.update(`editable in ${cwd}\0`);
        await addLocalRequirement(hash, value, cwd);
      }
    }
  }
}

/** Lines without comments, `\` continuations joined (pip's own preprocessing). */
function logicalLines(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, "");
  return joined
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l !== "");
}

/** `-r FILE`, `-rFILE`, `--requirement=FILE`, `--requirement FILE` at `words[i]`. */
function splitOption(words: string[], i: number): { option?: string; value?: string; consumed: number } {
  const word = words[i] as string;
  if (!word.startsWith("-")) return { consumed: 0 };
  const eq = word.indexOf("=");
  if (word.startsWith("--") && eq > 0) return { option: word.slice(0, eq), value: word.slice(eq + 1), consumed: 0 };
  const short = word.slice(0, 2);
  if (!word.startsWith("--") && word.length > 2 && [...FILE_OPTIONS, ...FIND_LINKS, ...EDITABLE].includes(short)) {
    return { option: short, value: word.slice(2), consumed: 0 };
  }
  if ([...FILE_OPTIONS, ...FIND_LINKS, ...EDITABLE].includes(word)) return { option: word, value: words[i + 1], consumed: 1 };
  return { option: word, consumed: 0 };
}

async function addFindLinks(hash: Hash, value: string, requirementsDir: string, cwd: string): Promise<void> {
  const local = localPath(value, cwd);
  if (local === undefined) return;
  // pip's rule: relative to the requirements file when it exists there.
  const besideFile = path.resolve(requirementsDir, value);
  const dir = !path.isAbsolute(value) && !value.startsWith("file:") && (await exists(besideFile)) ? besideFile : local;
  hash.update(`find-links ${path.relative(cwd, dir)}\0`);
  // pip looks at the folder's own entries, not below them.
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort();
  } catch {
    hash.update("missing\0");
    return;
  }
  for (const name of entries) await addFile(hash, path.join(dir, name), name);
}

async function addLocalRequirement(hash: Hash, spec: string, cwd: string): Promise<void> {
  const value = spec.split(";")[0]?.trim() ?? "";
  // A bare name (`numpy==1.26`) is not a path; pip treats names with a separator or a leading dot as paths.
  if (!value.startsWith("file:") && !value.includes("/") && !value.startsWith(".")) return;
  const local = localPath(value.replace(/#egg=.*$/, ""), cwd);
  if (local === undefined || !(await exists(local))) return;
  hash.update(`path ${value}\0`);
  await addTree(hash, local, "");
}

/** A local path for a `file:` URL or a plain path; undefined for other URLs (`https://...`). */
function localPath(value: string, cwd: string): string | undefined {
  if (value.startsWith("file://")) {
    try {
      return fileURLToPath(value);
    } catch {
      return undefined; // a file URL naming another host: not a local path
    }
  }
  if (value.startsWith("file:")) return path.resolve(cwd, value.slice("file:".length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  return path.resolve(cwd, value);
}

async function addTree(hash: Hash, abs: string, rel: string): Promise<void> {
  const st = await lstat(abs).catch(() => undefined);
  if (st === undefined || st.isSymbolicLink()) return;
  if (st.isFile()) {
    await addFile(hash, abs, rel);
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of (await readdir(abs)).sort()) {
    if (!SKIPPED_DIRS.has(name)) await addTree(hash, path.join(abs, name), `${rel}/${name}`);
  }
}

async function addFile(hash: Hash, abs: string, rel: string): Promise<void> {
  const st = await lstat(abs).catch(() => undefined);
  if (st === undefined || !st.isFile()) return;
  const content = createHash("sha256");
  for await (const chunk of createReadStream(abs)) content.update(chunk as Buffer);
  hash.update(`file ${rel} ${content.digest("hex")}\0`);
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}
