import { DstackError } from "../errors.js";

/** A file the CLI found but could not read (permissions, a folder where a file was expected). */
export class FileReadError extends DstackError {
  constructor(path: string, cause: unknown) {
    const reason = cause instanceof Error && "code" in cause ? String(cause.code) : cause instanceof Error ? cause.message : String(cause);
    super("file_read", `cannot read \`${path}\` (${reason}); check that it is a readable file`, { cause });
  }
}
