import { formatProblem, type Problem } from "../workflow/index.js";

/** A refused run request as one line: its message, then each problem it does not already say (`file:line:col: message`). */
export function refusalMessage(refusal: { message: string; problems: readonly Problem[] }): string {
  const details = refusal.problems.filter((p) => !refusal.message.includes(p.message)).map((p) => formatProblem(p));
  return [refusal.message, ...details].join("; ");
}
