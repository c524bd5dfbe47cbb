import type { CliIo } from "./cli-io.js";
import type { ExitCode } from "./exit-code.js";

/** What a command's action gets from `main`: where to write, the directory it runs in, and how to report its exit code. */
export interface CommandContext {
  io: CliIo;
  /** Relative paths on the command line are resolved against it. */
  cwd: string;
  /** Sets the exit code of a command that ran to the end (errors that stop it are mapped in `main`). */
  exit(code: ExitCode): void;
}
