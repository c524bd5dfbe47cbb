import type { SourceFile } from "../../src/workflow/index.js";

/**
 * A big `.dstack/` (workflows.yaml + variables.yaml) using the fields a real file uses, for issue 4's
 * benchmark and the fast-path tests: `count` workflows whose dependencies form deep chains (each
 * needs the one before it, one 7 back and the one at half its index: a `count`-deep chain with many
 * diamonds), so planning the last one pulls in all of them.
 */
export function generateWorkflows(count: number): SourceFile[] {
  const lines = ["workflows:"];
  for (let i = 0; i < count; i++) {
    const deps = [...new Set([i - 1, i - 7, Math.floor(i / 2)].filter((d) => d >= 0 && d < i))].map((d) => `w${d}`);
    lines.push(`  - name: w${i}`, `    help: step ${i} of the pipeline`);
    if (i % 4 === 0) {
      lines.push("    provider: bash", "    commands:", `      - echo step ${i} \${{ run.name }}`, "      - mkdir -p out && date > out/stamp.txt");
    } else {
      lines.push(
        "    provider: python",
        `    file: steps/step_${i}.py`,
        `    args: ["--epochs", "\${{ epochs }}", "--seed", "${i}"]`,
        "    requirements: requirements.txt",
        "    version: 3.10",
        "    env: [PYTHONPATH=src, STEP=" + String(i) + "]",
      );
    }
    if (deps.length > 0) lines.push(`    depends-on: [${deps.join(", ")}]`);
    lines.push(`    artifacts: [out/w${i}, {path: logs/w${i}, mount: true}]`);
    lines.push("    resources:", `      gpu: {name: V100, count: ${(i % 4) + 1}, memory: 16GB}`, "      memory: 32GB", "      shm_size: 8GB", `      interruptible: ${i % 2 === 0}`);
  }
  const variables = ["variables:", "  global:", "    epochs: 10", "    lr: 0.001", "  w1:", "    epochs: 20"];
  return [
    { path: ".dstack/variables.yaml", text: `${variables.join("\n")}\n` },
    { path: ".dstack/workflows.yaml", text: `${lines.join("\n")}\n` },
  ];
}
