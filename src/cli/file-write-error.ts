import { DstackError } from "../errors.js";

/** Plain words for the write failures a user causes or can fix. */
const REASONS: Record<string, string> = {
  ENOTDIR: "a folder on the way is a file",
  EISDIR: "it is a folder",
  EEXIST: "it is a file, not a folder",
  // mkdir answers ENOENT under an existing folder of a file system that makes nothing there (/proc).
  ENOENT: "this file system does not let files or folders be made there",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
};

/**
 * A file the CLI could not write (`dstack artifacts download -o DIR` where DIR is a file, or not
 * writable): a reason the user can act on, not "internal error ... this is a bug".
 */
export class FileWriteError extends DstackError {
  constructor(path: string, cause: NodeJS.ErrnoException) {
    const code = cause.code ?? "";
    super("file_write", `cannot write \`${path}\` (${REASONS[code] ?? code}); choose a folder you can write to with \`-o DIR\``, { cause });
  }
}

/** An error of the file system (it names the syscall), as opposed to one of the network stream being copied. */
export function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" && typeof (err as NodeJS.ErrnoException).syscall === "string";
}
