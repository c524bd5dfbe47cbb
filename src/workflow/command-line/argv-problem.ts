import type { Problem } from "../types.js";

/** The pseudo-file of problems in a command line. */
export const COMMAND_LINE_FILE = "<command line>";

/** 1-based column of `argv[index]` (plus `offset` characters into it) in `argv.join(" ")`. */
export function argColumn(argv: readonly string[], index: number, offset = 0): number {
  let column = 1;
  for (let i = 0; i < index && i < argv.length; i++) column += (argv[i] as string).length + 1;
  return column + offset;
}

/** An error located at an argument of the command line (line 1; column of the argument in the joined line). */
export function argvProblem(argv: readonly string[], index: number, code: string, message: string, severity: Problem["severity"] = "error", offset = 0): Problem {
  const column = argColumn(argv, index, offset);
  const length = index < argv.length ? (argv[index] as string).length - offset : 0;
  return { file: COMMAND_LINE_FILE, line: 1, column, severity, code, message, endLine: 1, endColumn: column + Math.max(0, length) };
}
