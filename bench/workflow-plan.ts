import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import jsYaml from "js-yaml";
import { parseDocument } from "yaml";
import { main } from "../src/cli/main.js";
import { formatProblem, hasErrors, loadWorkflows, planRunGroup } from "../src/workflow/index.js";
import type { SourceFile } from "../src/workflow/index.js";
import { parseYamlFast } from "../src/workflow/parse-yaml-fast.js";
import { scanYaml } from "../src/workflow/scan-yaml.js";
import { corpusRepos, writeCorpusRepo } from "../test/cli/corpus-folders.js";
import { generateWorkflows } from "../test/workflow/generate-workflows.js";
import type { Benchmark } from "./report.js";
import { quantile } from "./report.js";

/**
 * The workflow model on a big file, and `dstack validate` on the real corpus (issue 4's benchmark):
 * - parse + validate + plan of a generated 200-workflow file whose dependencies form deep chains
 *   (each workflow needs the one before it, one 7 back and the one at half its index: a 200-deep
 *   chain with many diamonds), planning the last workflow, which pulls in all 200; beside it, the
 *   one-pass YAML scanner alone (`scanYaml`, which reads this file), the js-yaml front end alone
 *   (`parseYamlFast`, the fast path before the scanner, now its fallback), js-yaml alone, the plan
 *   alone, and the same work with the full parser (`parseDocument`, as before any fast front end),
 *   to show where the time goes;
 * - `dstack validate` over every corpus file (each in its own `.dstack/`, as test/cli lays them out),
 *   in one process, through the CLI's `main` (files read from disk, output discarded);
 * - one spawned `dstack validate` process, start to exit (what a user waits for).
 */

const WORKFLOWS = 200;
const WARMUP = 20;
const ITERATIONS = 200;
const FULL_ITERATIONS = 30;
const CORPUS_PASSES = 10;
const SPAWNS = 5;
/** From dist/bench/ (where `npm run bench` runs this file), the repository's copy of the corpus. */
const CORPUS_DIR = fileURLToPath(new URL("../../test/fixtures/dstack-workflows/", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/dstack.js", import.meta.url));

function parseValidatePlan(files: SourceFile[], parseMode: "auto" | "full" = "auto"): number {
  const { workflows, problems } = loadWorkflows(files, {}, parseMode);
  if (hasErrors(problems)) throw new Error(`the generated file has errors:\n${problems.map(formatProblem).join("\n")}`);
  return planRunGroup(workflows, `w${WORKFLOWS - 1}`).nodes.length;
}

function timeMs(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Times `fn` `iterations` times, after `WARMUP` untimed calls: wall times, and the mean process CPU time. */
function samples(fn: () => unknown, iterations: number): { times: number[]; cpuMs: number } {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < iterations; i++) times.push(timeMs(fn));
  const used = process.cpuUsage(cpu);
  return { times, cpuMs: (used.user + used.system) / 1000 / iterations };
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
    const { workflows } = loadWorkflows(files);
    const text = (files[1] as SourceFile).text;
    // Each figure in its own loop: interleaved, one function's garbage is collected in another's time.
    const { times: whole, cpuMs } = samples(() => parseValidatePlan(files), ITERATIONS);
    const scanner = samples(() => scanYaml(text), ITERATIONS).times;
    const frontEnd = samples(() => parseYamlFast(text), ITERATIONS).times;
    const jsYamlOnly = samples(() => jsYaml.safeLoad(text), ITERATIONS).times;
    const planOnly = samples(() => planRunGroup(workflows, `w${WORKFLOWS - 1}`), ITERATIONS).times;
    // The full parser (parseDocument), as every file was read before the fast front end: fewer rounds, it is slow.
    const full: number[] = [];
    const yamlOnly: number[] = [];
    for (let i = 0; i < FULL_ITERATIONS; i++) {
      full.push(timeMs(() => parseValidatePlan(files, "full")));
      yamlOnly.push(timeMs(() => parseDocument(text, { uniqueKeys: false, prettyErrors: false })));
    }
    const shape = `${WORKFLOWS} workflows, ${text.split("\n").length} lines, ${Math.round(Buffer.byteLength(text) / 1024)} KiB, 200-deep chain; ${ITERATIONS} iterations`;
    report({ name: "parse+validate+plan, median", value: quantile(whole, 0.5), unit: "ms/file", note: `${shape}; target < 5 ms` });
    report({ name: "parse+validate+plan, p95", value: quantile(whole, 0.95), unit: "ms/file" });
    report({ name: "parse+validate+plan, CPU time, mean", value: cpuMs, unit: "ms/file", note: "process CPU time: less sensitive to a shared machine than wall time" });
    report({ name: "of which the YAML scanner, median", value: quantile(scanner, 0.5), unit: "ms/file", note: "scanYaml of workflows.yaml: text to the yaml node tree in one pass" });
    report({ name: "js-yaml front end alone, median", value: quantile(frontEnd, 0.5), unit: "ms/file", note: "parseYamlFast (js-yaml + the yaml node tree): the fast path before the scanner, now its fallback" });
    report({ name: "js-yaml safeLoad alone, median", value: quantile(jsYamlOnly, 0.5), unit: "ms/file", note: "reference: the parser's own time, default schema" });
    report({ name: "plan alone (200 nodes), median", value: quantile(planOnly, 0.5), unit: "ms" });
    report({ name: "parse+validate+plan with the full parser, median", value: quantile(full, 0.5), unit: "ms/file", note: `parseDocument, as before the fast front end; ${FULL_ITERATIONS} iterations` });
    report({ name: "yaml parseDocument alone, median", value: quantile(yamlOnly, 0.5), unit: "ms/file", note: "what the full parser spends in the yaml package" });

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
