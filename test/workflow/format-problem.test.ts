import { describe, expect, it } from "@jest/globals";
import { formatProblem, hasErrors } from "../../src/workflow/index.js";
import type { Problem } from "../../src/workflow/index.js";

describe("formatProblem", () => {
  const warning: Problem = { file: ".dstack/workflows.yaml", line: 3, column: 7, severity: "warning", code: "renamed-field", message: "`script` is an older name of `file`" };

  it("prints `file:line:col: severity: message`", () => {
    expect(formatProblem(warning)).toBe(".dstack/workflows.yaml:3:7: warning: `script` is an older name of `file`");
  });

  it("counts only errors as failures", () => {
    expect(hasErrors([warning])).toBe(false);
    expect(hasErrors([warning, { ...warning, severity: "error" }])).toBe(true);
  });
});
