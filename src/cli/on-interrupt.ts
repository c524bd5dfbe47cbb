import { constants } from "node:os";

/** The signals a user or a supervisor stops a command with: Ctrl-C and `kill`. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Until the returned function is called, SIGINT (Ctrl-C) and SIGTERM run `cleanUp` and then end the
 * process with 128 + the signal's number (130, 143), as shells report a command a signal stopped.
 * `cleanUp` must be synchronous: the process exits right after it, with writes and requests still in
 * flight, so nothing asynchronous would get its turn.
 */
export function onInterrupt(cleanUp: (signal: NodeJS.Signals) => void, exit: (code: number) => never = process.exit): () => void {
  const handler = (signal: NodeJS.Signals) => {
    try {
      cleanUp(signal);
    } finally {
      exit(128 + constants.signals[signal]);
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
  };
}
