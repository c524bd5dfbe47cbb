import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.js";

/** The `dstack` program of this repository (bin/dstack.js, which runs the build in dist/). */
const BIN = fileURLToPath(new URL("../../bin/dstack.js", import.meta.url));
const BUILT = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Written to the CLI's stdin, which is then closed (empty without it). */
  input?: string;
  /** Called with each stdout chunk as it arrives (latency measurements). */
  onStdout?: (chunk: string) => void;
  /** Called with the CLI's process once started (to send it signals). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs the real built CLI, `node bin/dstack.js ARGS`, in `cwd`. */
export function runCli(args: readonly string[], cwd: string, options: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` before these tests (\`npm test\` does)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    options.onSpawn?.(child);
    child.stdin.end(options.input ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI's `main` in this process (same code as the built one, from src/), capturing its output. */
export async function runCliInProcess(args: readonly string[], cwd: string): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { cwd, io: { out: (text) => void (stdout += text), err: (text) => void (stderr += text) } });
  return { code, stdout, stderr };
}

/** A new temporary Git checkout whose `origin` is `origin`, with `files` (relative paths) in one commit; its folder. */
export async function makeCheckout(origin: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-checkout-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "t@example.com");
  git("config", "user.name", "t");
  git("remote", "add", "origin", origin);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  git("add", ".");
  git("commit", "-q", "-m", "init");
  return dir;
}
