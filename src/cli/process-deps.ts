import { processIo } from "./cli-io.js";
import type { CliDeps } from "./command-context.js";

/** The real process's side of the CLI: its streams, directory and environment (read here and in no other CLI file). */
export function processDeps(): CliDeps {
  return {
    io: processIo,
    cwd: process.cwd(),
    env: process.env,
    stdin: process.stdin,
    tty: { out: process.stdout.isTTY === true, err: process.stderr.isTTY === true },
  };
}
