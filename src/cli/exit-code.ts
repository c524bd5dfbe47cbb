import { CommanderError } from "commander";
import { ConfigError, DstackError, InvalidInputError, NotFoundError, UnauthorizedError } from "../errors.js";
import { FileReadError } from "./file-read-error.js";
import { ServerUnreachableError } from "./server-unreachable-error.js";

/**
 * Exit codes of `dstack` (DESIGN.md §7: 0 on success, non-zero with a one-line reason). A command
 * that ran and answered "no" exits `failure`; one that could not do its job exits with the code of
 * the error that stopped it (`exitCodeFor`).
 */
export const ExitCode = {
  /** Done, and the answer is yes: no errors found. */
  ok: 0,
  /** Done, and the answer is no: `validate` found errors. Also any other `DstackError`. */
  failure: 1,
  /** Not done: bad arguments, or input that is missing (a folder, a run), unreadable or unacceptable. */
  usage: 2,
  /** Configuration missing or bad. */
  config: 3,
  /** Credentials missing or refused. */
  unauthorized: 4,
  /** The server could not be reached (EX_UNAVAILABLE of sysexits.h would be 69; kept small and distinct). */
  unreachable: 5,
  /** An error nobody anticipated: a bug (EX_SOFTWARE of sysexits.h). */
  internal: 70,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error that stopped a command; `CommanderError` covers usage errors and `--help`. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  if (error instanceof ConfigError) return ExitCode.config;
  if (error instanceof UnauthorizedError) return ExitCode.unauthorized;
  if (error instanceof ServerUnreachableError) return ExitCode.unreachable;
  if (error instanceof NotFoundError || error instanceof InvalidInputError || error instanceof FileReadError) return ExitCode.usage;
  if (error instanceof DstackError) return ExitCode.failure;
  return ExitCode.internal;
}
