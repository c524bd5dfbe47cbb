import { describe, expect, it } from "@jest/globals";
import { loadWorkflows } from "../../src/workflow/index.js";
import type { Problem, SourceFile } from "../../src/workflow/index.js";
import { corpusFiles, corpusText } from "./corpus.js";

/** A small seeded generator, so that a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["workflows:", "variables:", "providers:", "\n", "\n  ", "\n    ", "- ", ": ", "name", "provider", "bash", "python", "commands", "resources", "gpu", "depends-on", "deps", "artifacts", "${{ x }}", "${{", "}}", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a", "<<: ", "? ", "|", ">", "#", "\t", "---", "...", "!!str ", "!tag ", "%YAML 1.2", "..", "/", ":", "0", "3.10", "1e5", "null", "~", "true", "é", "\r\n", "\u0000", "\ufeff", " "];

function garbage(next: () => number): string {
  let text = "";
  const length = Math.floor(next() * 60);
  for (let i = 0; i < length; i++) text += PIECES[Math.floor(next() * PIECES.length)] as string;
  return text;
}

function mutate(text: string, next: () => number): string {
  let out = text;
  for (let i = 0; i < 1 + Math.floor(next() * 4); i++) {
    const at = Math.floor(next() * (out.length + 1));
    const cut = Math.floor(next() * 8);
    out = out.slice(0, at) + (next() < 0.5 ? (PIECES[Math.floor(next() * PIECES.length)] as string) : "") + out.slice(at + cut);
  }
  return out;
}

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
