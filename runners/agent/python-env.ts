import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fingerprintRequirements } from "./requirements-fingerprint.js";

export interface Output {
  write(chunk: Buffer | string): boolean;
}

/**
 * Finds the interpreter for a python workflow: `python<version>` when a version is asked and is on
 * PATH, else `python3`. The version's major.minor is checked so a run never silently uses another.
 */
export async function findPython(version: string | undefined): Promise<string> {
  const candidates = version === undefined ? ["python3"] : [`python${version}`, "python3"];
  for (const exe of candidates) {
    const actual = await run(exe, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).catch(() => undefined);
    if (actual === undefined) continue;
    if (version === undefined || actual.trim() === version || actual.trim().startsWith(`${version}.`) || version.split(".").length === 1) {
      return exe;
    }
  }
  throw new Error(
    version === undefined
      ? "python3 is not installed on the runner"
      : `Python ${version} is not installed on the runner (looked for python${version} and python3)`,
  );
}

/**
 * A virtualenv with the run's requirements, cached by hash(python version, what the requirements
 * install: their text and the local files they point at, see `fingerprintRequirements`):
 * the venv is the largest cost of starting a python run (seconds), so a second run with the same
 * requirements reuses it. Marked complete only once pip succeeded, so a run never uses a
 * half-built environment. Returns the venv's python.
 */
export async function preparePythonEnv(
  deps: { out: Output; cacheDir: string; env: NodeJS.ProcessEnv },
  input: { python: string; requirementsFile: string; cwd: string },
): Promise<string> {
  if (!existsSync(path.resolve(input.cwd, input.requirementsFile))) {
    throw new Error(`requirements file ${input.requirementsFile} does not exist in the repository`);
  }
  const version = await run(input.python, ["-c", "import sys; print(sys.version)"]);
  const requirements = await fingerprintRequirements(input.requirementsFile, input.cwd);
  const hash = createHash("sha256").update(version).update("\0").update(requirements).digest("hex").slice(0, 24);
  const dir = path.join(deps.cacheDir, "venvs", hash);
  const python = path.join(dir, "bin", "python");
  if (existsSync(path.join(dir, ".complete"))) {
    deps.out.write(`[dstack] reusing the python environment for ${input.requirementsFile} (${hash.slice(0, 12)})\n`);
    return python;
  }
  await mkdir(path.join(deps.cacheDir, "venvs"), { recursive: true });
  // Built in place (venv scripts embed their absolute path, so no build-then-rename) under a lock
  // folder: mkdir is atomic, so two runs with the same requirements build it once.
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs).catch(() => Date.now()));
      if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
      if (existsSync(path.join(dir, ".complete"))) return python;
    }
  }
  try {
    deps.out.write(`[dstack] creating a python environment for ${input.requirementsFile}\n`);
    await rm(dir, { recursive: true, force: true });
    await stream(deps, input.python, ["-m", "venv", dir], input.cwd);
    await stream(
      deps,
      python,
      ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", path.resolve(input.cwd, input.requirementsFile)],
      input.cwd,
    );
    await writeFile(path.join(dir, ".complete"), new Date().toISOString());
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
  return python;
}

/** A lock older than this belongs to a builder that died. */
const LOCK_STALE_MS = 30 * 60 * 1000;

function run(exe: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${exe} exited with ${code}`))));
  });
}

function stream(deps: { out: Output; env: NodeJS.ProcessEnv }, exe: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd, env: deps.env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => deps.out.write(d));
    child.stderr.on("data", (d: Buffer) => deps.out.write(d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(exe)} ${args.slice(0, 3).join(" ")} failed with exit code ${code}`))));
  });
}
