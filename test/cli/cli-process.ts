import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
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
