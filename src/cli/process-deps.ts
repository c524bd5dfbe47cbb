import { processIo } from "./cli-io.js";
import type { CliDeps } from "./command-context.js";

/** The real process's side of the CLI: its streams, directory and environment (read here and in no other CLI file). */
export function processDeps(): CliDeps {
  endQuietlyWhenReaderLeaves(process.stdout);
  endQuietlyWhenReaderLeaves(process.stderr);
  return {
    io: processIo,
    cwd: process.cwd(),
    env: process.env,
    stdin: process.stdin,
    tty: { out: process.stdout.isTTY === true, err: process.stderr.isTTY === true },
  };
}

/** 128 + SIGPIPE, as shells report a command that wrote to a pipe nobody reads any more. */
const CLOSED_PIPE_EXIT = 141;

/**
 * `dstack logs RUN | head` closes the pipe while the CLI still writes: end at once, without Node's
 * "Unhandled 'error' event" stack trace, as `git log | head` does. Other write errors stay loud.
 */
function endQuietlyWhenReaderLeaves(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount("error") > 0) return;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    process.exit(CLOSED_PIPE_EXIT);
  });
}
