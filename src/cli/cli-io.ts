/**
 * Where the CLI writes: the process's stdout/stderr, or a buffer in tests. Text is written as given
 * (callers end lines with `\n`). `console` and `process.stdout` are used here and in process-deps.ts, nowhere else.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

