import { describe, expect, it } from "@jest/globals";
import { loadWorkflows } from "../../src/workflow/index.js";
import type { Problem, SourceFile } from "../../src/workflow/index.js";
import { corpusFiles, corpusText } from "./corpus.js";
import { garbage, mutate, random } from "./yaml-mutator.js";

function expectWithinText(problem: Problem, files: SourceFile[]): void {
  const file = files.find((f) => f.path === problem.file);
  expect(file).toBeDefined();
  const lines = (file as SourceFile).text.split("\n");
  expect(problem.line).toBeGreaterThanOrEqual(1);
  expect(problem.line).toBeLessThanOrEqual(lines.length);
  expect(problem.column).toBeGreaterThanOrEqual(1);
  expect(problem.column).toBeLessThanOrEqual((lines[problem.line - 1] as string).length + 1);
  expect(problem.message.length).toBeGreaterThan(0);
}

describe("loadWorkflows on garbage", () => {
  it("never throws and locates every problem inside the text (random YAML-ish input)", () => {
    const next = random(20221206);
    for (let i = 0; i < 1500; i++) {
      const files: SourceFile[] = [
        { path: ".dstack/workflows.yaml", text: garbage(next) },
        { path: ".dstack/variables.yaml", text: garbage(next) },
        { path: ".dstack/providers.yaml", text: garbage(next) },
      ];
      const result = loadWorkflows(files, { variables: { x: "1" } });
      for (const problem of result.problems) expectWithinText(problem, files);
    }
  });

  it("never throws and locates every problem inside the text (mutated corpus files)", () => {
    const next = random(42);
    const texts = corpusFiles().map(corpusText);
    for (let i = 0; i < 1500; i++) {
      const files: SourceFile[] = [{ path: ".dstack/workflows.yaml", text: mutate(texts[i % texts.length] as string, next) }];
      const result = loadWorkflows(files);
      for (const problem of result.problems) expectWithinText(problem, files);
    }
  });
});
