import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { formatProblem, loadWorkflows } from "../../src/workflow/index.js";
import type { SourceFile } from "../../src/workflow/index.js";

/**
 * docs/workflows.md shows what users copy: every YAML example in it loads without a problem.
 * A whole file (`workflows:`) loads as it is; `# .dstack/variables.yaml` loads beside a workflow that
 * uses its variables; any other block is the fields of one workflow, beside a `download` workflow.
 */

const DOC = readFileSync(new URL("../../docs/workflows.md", import.meta.url), "utf8");
const BLOCKS = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

function asFiles(block: string): SourceFile[] {
  if (/^(workflows:|# yaml-language-server:)/.test(block)) return [{ path: ".dstack/workflows.yaml", text: block }];
  if (block.startsWith("# .dstack/variables.yaml")) {
    const uses = ["workflows:", "  - name: train", "    provider: bash", "    commands:", '      - "echo ${{ model }} ${{ epochs }} ${{ batch-size }}"', ""].join("\n");
    return [
      { path: ".dstack/variables.yaml", text: block },
      { path: ".dstack/workflows.yaml", text: uses },
    ];
  }
  const fields = block
    .split("\n")
    .map((line) => (line === "" ? line : `    ${line}`))
    .join("\n");
  const head = ["workflows:", "  - name: download", "    provider: bash", "    commands: [echo download]", "  - name: train", "    provider: bash", "    commands: [echo train]", ""].join("\n");
  return [{ path: ".dstack/workflows.yaml", text: head + fields }];
}

describe("docs/workflows.md", () => {
  it("has YAML examples", () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(8);
  });

  for (const block of BLOCKS) {
    it(`example \`${block.split("\n")[0] ?? ""}\` loads without a problem`, () => {
      expect(loadWorkflows(asFiles(block)).problems.map(formatProblem)).toEqual([]);
    });
  }
});
