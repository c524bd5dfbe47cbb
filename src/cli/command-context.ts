import type { Readable } from "node:stream";
import type { CliIo } from "./cli-io.js";
import type { ExitCode } from "./exit-code.js";

/** What `main` needs from the process; tests pass a buffer and a temp directory. */
export interface CliDeps {
  io: CliIo;
  cwd: string;
  /** The environment (DSTACK_URL, DSTACK_TOKEN, XDG_CONFIG_HOME, HOME, NO_COLOR). Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where secret values are read from when not given. Default: nothing to read. */
  stdin?: Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  /** Whether stdout and stderr are terminals (colours, progress bars). Default: false. */
  tty?: { out: boolean; err: boolean };
}

/** What a command's action gets from `main`: where to write, the directory it runs in, and how to report its exit code. */
export interface CommandContext {
  io: CliIo;
  /** Relative paths on the command line are resolved against it. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin?: CliDeps["stdin"];
  tty: { out: boolean; err: boolean };
  /** Sets the exit code of a command that ran to the end (errors that stop it are mapped in `main`). */
  exit(code: ExitCode): void;
}
