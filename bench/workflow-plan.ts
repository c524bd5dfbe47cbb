import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { main } from "../src/cli/main.js";
import { formatProblem, hasErrors, loadWorkflows, planRunGroup } from "../src/workflow/index.js";
import type { SourceFile } from "../src/workflow/index.js";
import { corpusRepos, writeCorpusRepo } from "../test/cli/corpus-folders.js";
import type { Benchmark } from "./report.js";
import { quantile } from "./report.js";

/**
 * The workflow model on a big file, and `dstack validate` on the real corpus (issue 4's benchmark):
 * - parse + validate + plan of a generated 200-workflow file whose dependencies form deep chains
 *   (each workflow needs the one before it, one 7 back and the one at half its index: a 200-deep
 *   chain with many diamonds), planning the last workflow, which pulls in all 200; beside it, the
 *   YAML parse alone (the `yaml` package's `parseDocument`, as `YamlFile` calls it) and the plan alone,
 *   to show where the time goes;
 * - `dstack validate` over every corpus file (each in its own `.dstack/`, as test/cli lays them out),
 *   in one process, through the CLI's `main` (files read from disk, output discarded);
 * - one spawned `dstack validate` process, start to exit (what a user waits for).
 */

const WORKFLOWS = 200;
const WARMUP = 20;
const ITERATIONS = 200;
const CORPUS_PASSES = 10;
const SPAWNS = 5;
/** From dist/bench/ (where `npm run bench` runs this file), the repository's copy of the corpus. */
const CORPUS_DIR = fileURLToPath(new URL("../../test/fixtures/dstack-workflows/", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/dstack.js", import.meta.url));

/** A 200-workflow `.dstack/` (workflows.yaml + variables.yaml) using the fields a real file uses. */
function generateWorkflows(count: number): SourceFile[] {
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

function parseValidatePlan(files: SourceFile[]): number {
  const { workflows, problems } = loadWorkflows(files);
  if (hasErrors(problems)) throw new Error(`the generated file has errors:\n${problems.map(formatProblem).join("\n")}`);
  return planRunGroup(workflows, `w${WORKFLOWS - 1}`).nodes.length;
}

function timeMs(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

const discard = { out: () => undefined, err: () => undefined };

function spawnValidate(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [BIN, "validate", dir], { stdio: "ignore" });
    child.on("error", reject);
    child.on("close", () => resolve(performance.now() - start));
  });
}

const benchmark: Benchmark = {
  name: "workflow model and dstack validate",
  async run(report) {
    const files = generateWorkflows(WORKFLOWS);
    const nodes = parseValidatePlan(files);
    if (nodes !== WORKFLOWS) throw new Error(`the plan of w${WORKFLOWS - 1} has ${nodes} workflows, expected ${WORKFLOWS}`);
    for (let i = 0; i < WARMUP; i++) parseValidatePlan(files);
    const whole: number[] = [];
    const yamlOnly: number[] = [];
    const planOnly: number[] = [];
    const { workflows } = loadWorkflows(files);
    const text = (files[1] as SourceFile).text;
    for (let i = 0; i < ITERATIONS; i++) {
      whole.push(timeMs(() => parseValidatePlan(files)));
      yamlOnly.push(timeMs(() => parseDocument(text, { uniqueKeys: false, prettyErrors: false })));
      planOnly.push(timeMs(() => planRunGroup(workflows, `w${WORKFLOWS - 1}`)));
    }
    const shape = `${WORKFLOWS} workflows, ${text.split("\n").length} lines, ${Math.round(Buffer.byteLength(text) / 1024)} KiB, 200-deep chain; ${ITERATIONS} iterations`;
    report({ name: "parse+validate+plan, median", value: quantile(whole, 0.5), unit: "ms/file", note: `${shape}; target < 5 ms` });
    report({ name: "parse+validate+plan, p95", value: quantile(whole, 0.95), unit: "ms/file" });
    report({ name: "of which YAML parse alone, median", value: quantile(yamlOnly, 0.5), unit: "ms/file", note: "yaml parseDocument of workflows.yaml" });
    report({ name: "plan alone (200 nodes), median", value: quantile(planOnly, 0.5), unit: "ms" });

    const root = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-validate-"));
    try {
      const dirs: string[] = [];
      for (const repo of await corpusRepos(CORPUS_DIR)) dirs.push(await writeCorpusRepo(CORPUS_DIR, repo, root));
      const pass = async (): Promise<number> => {
        const start = performance.now();
        for (const dir of dirs) await main(["validate", dir], { io: discard, cwd: root });
        return performance.now() - start;
      };
      const first = await pass();
      const passes: number[] = [];
      for (let i = 0; i < CORPUS_PASSES; i++) passes.push(await pass());
      report({ name: "dstack validate, whole corpus, first pass", value: first, unit: "ms", note: `${dirs.length} repositories, one process, files read from disk` });
      report({ name: "dstack validate, whole corpus, median", value: quantile(passes, 0.5), unit: "ms", note: `${CORPUS_PASSES} passes` });

      const spawns: number[] = [];
      for (let i = 0; i < SPAWNS; i++) spawns.push(await spawnValidate(dirs[dirs.length - 1] as string));
      report({ name: "one `dstack validate` process, median", value: quantile(spawns, 0.5), unit: "ms", note: `node bin/dstack.js, start to exit, ${SPAWNS} runs` });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
};

export default benchmark;
