import type { Problem } from "./types.js";

/** One problem the way compilers print them: `file:line:col: severity: message`. */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.severity}: ${p.message}`;
}

/** True when any problem is an error (warnings alone never stop a run). */
export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === "error");
}
