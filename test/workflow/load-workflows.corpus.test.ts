import { describe, expect, it } from "@jest/globals";
import { formatProblem, hasAbsoluteArtifacts, loadWorkflows, planRunGroup } from "../../src/workflow/index.js";
import type { LoadOptions, LoadResult, Problem, SourceFile } from "../../src/workflow/index.js";
import { byName, corpusFile, corpusFiles, corpusIndex, errors } from "./corpus.js";

/**
 * Every file of the shared corpus (test/fixtures/dstack-workflows/, a copy of ../shared/fixtures/, 2021-2022): the 2022 files
 * load without errors (with their variables/providers files, as the README pairs them), the user
 * errors and older dialects get the located error they deserve.
 */

interface ExpectedError {
  line: number;
  column: number;
  code: string;
  /** Words the message must contain. */
  says: string[];
  file?: string;
}

interface Case {
  /** Companion files: [corpus file, path to load it as (default: its README kind)]. */
  with?: Array<[string, string?]>;
  /** Path to load the file itself as. */
  as?: string;
  options?: LoadOptions;
  /** Every error, exactly (none when absent). */
  errors?: ExpectedError[];
  /** For the older dialects: errors that must be among the (many) reported. */
  someErrors?: ExpectedError[];
  /** Codes of every warning, in order (none when absent). */
  warnings?: string[];
}

const python = "renamed-field";

const CASES: Record<string, Case> = {
  "01-gpt2-2021-id-params.yaml": {
    someErrors: [
      { line: 3, column: 5, code: "legacy-syntax", says: ["`id`", "write `name: download_model`"] },
      { line: 4, column: 5, code: "legacy-syntax", says: ["`params`", "variables: {download_model: {model: 124M}}", "${{ model }}"] },
      { line: 7, column: 5, code: "legacy-syntax", says: ["no `provider`", "provider: docker"] },
      { line: 10, column: 34, code: "legacy-syntax", says: ["`$model`", "${{ model }}"] },
      { line: 12, column: 16, code: "legacy-syntax", says: ["`$model`"] },
      { line: 22, column: 5, code: "legacy-syntax", says: ["`dependencies`", "depends-on: [download_model, download_dataset]"] },
    ],
  },
  "02-gpt2-2021-depends-on-repo-include.yaml": {
    someErrors: [
      { line: 4, column: 5, code: "legacy-syntax", says: ["provider: docker"] },
      { line: 8, column: 5, code: "legacy-syntax", says: ["2021 form", "repo.include"] },
      { line: 22, column: 5, code: "legacy-syntax", says: ["depends-on: [download_model]"] },
      { line: 30, column: 11, code: "unknown-dependency", says: ["`download_model`", "did you mean `download-model`?"] },
      { line: 39, column: 11, code: "unknown-dependency", says: ["did you mean `encode-dataset`?"] },
      { line: 42, column: 52, code: "legacy-syntax", says: ["`$job_name`", "${{ run.name }}"] },
    ],
  },
  "03-gpt2-2021-variables-as-args.yaml": {
    with: [["04-gpt2-2021-variables-global.yaml"]],
    someErrors: [
      { line: 8, column: 5, code: "legacy-syntax", says: ["remove it"] },
      { line: 36, column: 5, code: "legacy-syntax", says: ["depends-on: [download-model, encode-dataset]"] },
      { line: 42, column: 52, code: "legacy-syntax", says: ["`$job_id`", "${{ run.name }}"] },
      { line: 42, column: 100, code: "legacy-syntax", says: ["`$variables_as_args`", "--model ${{ model }}"] },
    ],
  },
  "04-gpt2-2021-variables-global.yaml": {},
  "05-examples-2022-01-hello-gpu-count.yaml": {
    errors: [{ line: 4, column: 5, code: "legacy-syntax", says: ["`hello`", "no `provider`", "provider: docker", "keep `image` and `commands`"] }],
  },
  "06-gpt2-2022-02-template.yaml": {
    someErrors: [
      { line: 4, column: 5, code: "legacy-syntax", says: ["`template:`", "February 2022", "provider: docker"] },
      { line: 11, column: 5, code: "legacy-syntax", says: ["2021 form"] },
      { line: 18, column: 5, code: "legacy-syntax", says: ["`template:`"] },
      { line: 38, column: 5, code: "legacy-syntax", says: ["`template:`"] },
      { line: 42, column: 54, code: "legacy-syntax", says: ["`$run_name`", "${{ run.name }}"] },
    ],
  },
  "07-examples-2022-02-template.yaml": {
    errors: [{ line: 4, column: 5, code: "legacy-syntax", says: ["`template:`", "`image`, `commands` and `resources`", "provider: docker"] }],
  },
  "08-examples-2022-02-mnist-image-depends.yaml": {
    with: [["09-examples-2022-02-variables.yaml"]],
    errors: [
      { line: 4, column: 5, code: "legacy-syntax", says: ["`download-mnist`", "provider: docker"] },
      { line: 12, column: 5, code: "legacy-syntax", says: ["`train-mnist`", "provider: docker"] },
    ],
  },
  "09-examples-2022-02-variables.yaml": {},
  "10-gpt2-2022-03-variables.yaml": {},
  "11-examples-2022-03-python-toplevel-gpu.yaml": { warnings: [python, python, "renamed-field"] },
  "12-docs-2022-03-gpt2-depends-list.yaml": {
    with: [["10-gpt2-2022-03-variables.yaml"]],
    someErrors: [
      { line: 4, column: 5, code: "legacy-syntax", says: ["`download-model`", "provider: docker"] },
      { line: 7, column: 35, code: "legacy-syntax", says: ["`$model`", "${{ model }}"] },
      { line: 27, column: 111, code: "legacy-syntax", says: ["`$variables_as_args`"] },
    ],
  },
  "13-docs-2022-03-gpu-name-key.yaml": {
    // The page's variables.yaml is not in the corpus; `dstack run prepare --pgpu 4` (README, line 3) gives them.
    options: { variables: { pgpu: "4", tgpu: "2" } },
    warnings: [python, "renamed-field", python, "renamed-field"],
  },
  "14-examples-2022-03-gpu-variable.yaml": {
    with: [["09-examples-2022-02-variables.yaml"]],
    options: { variables: { gpu: "1" } },
    warnings: [python, python],
  },
  "15-docs-2022-04-curl.yaml": {},
  "16-simple-provider-workflow.yaml": { with: [["17-simple-provider-providers.yaml"]] },
  "17-simple-provider-providers.yaml": {},
  "18-recohut-version-tags.yaml": { with: [["19-recohut-variables-two-sections.yaml"]], warnings: [python, python, python, python] },
  "19-recohut-variables-two-sections.yaml": {},
  "20-smathews-undefined-dep.yaml": {
    options: { variables: { gpu: "1" } },
    warnings: [python],
    errors: [{ line: 8, column: 9, code: "unknown-dependency", says: ["`train-mnist` depends on `download-mnist`", "not defined"] }],
  },
  "21-mmahesh-two-var-sections.yaml": { with: [["22-mmahesh-variables-two.yaml"]], warnings: [python, python, python] },
  "22-mmahesh-variables-two.yaml": {},
  "23-mmahesh-python-schema-object.yaml": {
    with: [["22-mmahesh-variables-two.yaml"]],
    warnings: [python, python, python, python, python],
    errors: [
      { line: 5, column: 5, code: "invalid-type", says: ["`python` must be a Python version", "JSON Schema", "write `version: 3.9`"] },
      { line: 15, column: 5, code: "invalid-type", says: ["JSON Schema", "write `version: 3.9`"] },
    ],
  },
  "24-mmahesh-custom-provider-workflows.yaml": {
    with: [["25-mmahesh-custom-provider-providers.yaml"], ["22-mmahesh-variables-two.yaml"]],
    warnings: [python],
  },
  "25-mmahesh-custom-provider-providers.yaml": {},
  // 22's `check-gpu-count` section belongs to a later version of this repository's workflows.
  "26-mmahesh-python-quoted.yaml": { with: [["22-mmahesh-variables-two.yaml"]], warnings: [python, python, "unknown-variables-section"] },
  "27-mmahesh-cpu-gpu-variants.yaml": { warnings: [python, python, python] },
  "28-docs-2022-05-python-env-resources.yaml": { warnings: [python] },
  "29-pragasv-artifacts-typo.yaml": {
    with: [["30-pragasv-variables.yaml"]],
    warnings: [python, python],
    errors: [
      { line: 7, column: 5, code: "unknown-field", says: ["unknown field `artifiacts`", "did you mean `artifacts`?"] },
      { line: 16, column: 5, code: "unknown-field", says: ["did you mean `artifacts`?"] },
    ],
  },
  "30-pragasv-variables.yaml": {},
  "31-ivan-docker-cpu-memory.yaml": {},
  "32-rajeshai-environment-map.yaml": { with: [["33-rajeshai-variables-pgpu.yaml"]], warnings: [python] },
  "33-rajeshai-variables-pgpu.yaml": {},
  "34-rajeshai-provider-eq-version.yaml": {
    options: { variables: { tgpu: "1" } },
    warnings: [python],
    errors: [{ line: 4, column: 15, code: "invalid-provider", says: ["`provider: python==3.8` is not a provider", "write `provider: python` and `version: 3.8`"] }],
  },
  "35-rajeshai-four-space-indent.yaml": { warnings: [python] },
  "36-ivan-provider-object-ports-nodes.yaml": {},
  "37-ivan-environment-bool.yaml": {},
  "38-oleg-python-version-38.yaml": { with: [["39-oleg-variables.yaml"]], warnings: [python, python] },
  "39-oleg-variables.yaml": {},
  "40-dewarp-memory-cpu-bad-provider.yaml": {
    with: [["41-dewarp-variables-strings.yaml"]],
    warnings: [python, python, python],
    errors: [{ line: 25, column: 15, code: "invalid-provider", says: ["one word", "Write `provider: python`", 'args: ["${{ config }}", "${{ overrides }}"]'] }],
  },
  "41-dewarp-variables-strings.yaml": {},
  "42-oleg-tag-dep-external.yaml": {
    // `preprocess-data` came after this variables.yaml; its `gpu` is given on the command line.
    with: [["39-oleg-variables.yaml"]],
    options: { variables: { gpu: "1" } },
    warnings: [python, python, python],
  },
  "43-examples-2022-05-script-latest.yaml": { with: [["44-examples-2022-05-variables.yaml"]], warnings: [python, python] },
  "44-examples-2022-05-variables.yaml": {},
  "45-ivan-provider-at-branch.yaml": { with: [["46-ivan-torchrun-providers.yaml"]], warnings: ["provider-branch", python, "shadowed-provider"] },
  "46-ivan-torchrun-providers.yaml": { warnings: ["shadowed-provider"] },
  "47-docs-2022-06-jupyter-experimental.yaml": { warnings: ["provider-branch"] },
  "48-mmahesh-flow-style.yaml": { warnings: [python, python] },
  "49-docs-2022-06-python-file-args.yaml": {},
  "50-ivan-torchrun-nodes.yaml": { warnings: [python] },
  "51-docs-2022-06-torchrun-script-nodes.yaml": { warnings: [python] },
  "52-docs-2022-06-gradio.yaml": {},
  "53-docs-2022-06-fastapi-app.yaml": {},
  "54-docs-2022-06-readme-chain.yaml": {},
  "55-dstack-2022-07-hello-file.yaml": { with: [["59-dstack-2022-07-providers-registry.yaml"]], warnings: Array<string>(12).fill("shadowed-provider") },
  "56-docs-2022-07-docker-gpu-name.yaml": {},
  "57-docs-2022-07-lab.yaml": {},
  "58-docs-2022-07-bash-ports.yaml": {},
  "59-dstack-2022-07-providers-registry.yaml": { warnings: Array<string>(12).fill("shadowed-provider") },
  "60-trecover-gpu-object-shm.yaml": { warnings: [python] },
  "61-kengz-bash-code-k80.yaml": { warnings: [python, python] },
  "62-docs-2022-08-deps-colon-tag.yaml": { warnings: [python] },
  "63-examples-2022-08-bash-env-deps.yaml": { warnings: [python] },
  "64-examples-2022-08-deps-tag-artifacts-path.yaml": { warnings: [python] },
  "65-docs-2022-08-torchrun-artifact-path.yaml": {},
  "66-eafpres-interruptible.yaml": { warnings: [python] },
  "67-docs-2022-09-code-with-commands.yaml": { warnings: ["renamed-field"] },
  "68-kengz-deps-abs-artifact.yaml": {},
  "69-kengz-env-path-expansion.yaml": {},
  "70-trecover-deps-tag.yaml": { warnings: [python] },
  "71-eafpres-duplicate-artifacts-key.yaml": {
    warnings: [python],
    errors: [{ line: 12, column: 5, code: "duplicate-key", says: ["duplicate key `artifacts`", "first at line 11", "kept the last"] }],
  },
  "72-docs-2022-09-deps-tag-cross-repo.yaml": {},
  "73-docs-2022-12-run-args.yaml": {},
  "74-examples-2022-12-apps-ports.yaml": { as: ".dstack/workflows/apps.yaml" },
  "75-examples-2022-12-args-run-args.yaml": { as: ".dstack/workflows/args.yaml" },
  "76-examples-2022-12-artifacts-mount.yaml": { as: ".dstack/workflows/artifacts.yaml" },
  "77-examples-2022-12-conda.yaml": { as: ".dstack/workflows/conda.yaml" },
  "78-examples-2022-12-deps.yaml": {
    // `hello-txt` is defined in artifacts.yaml of the same `.dstack/workflows/` folder.
    as: ".dstack/workflows/deps.yaml",
    with: [["76-examples-2022-12-artifacts-mount.yaml", ".dstack/workflows/artifacts.yaml"]],
  },
  "79-examples-2022-12-dev-environments.yaml": { as: ".dstack/workflows/dev-environments.yaml" },
  "80-examples-2022-12-envs.yaml": { as: ".dstack/workflows/envs.yaml" },
  "81-examples-2022-12-hello.yaml": { as: ".dstack/workflows/hello.yaml" },
  "82-examples-2022-12-python-version.yaml": { as: ".dstack/workflows/python.yaml", warnings: [python] },
  "83-examples-2022-12-resources.yaml": { as: ".dstack/workflows/resources.yaml" },
  "84-docs-2022-12-readme-comments.yaml": {},
};

function load(name: string, extra: Partial<Case> = {}): LoadResult {
  const c = { ...CASES[name], ...extra };
  const files: SourceFile[] = [corpusFile(name, c.as), ...(c.with ?? []).map(([file, path]) => corpusFile(file, path))];
  return loadWorkflows(files, c.options);
}

function expectError(problems: Problem[], e: ExpectedError, file: string): void {
  const found = problems.find((p) => p.line === e.line && p.column === e.column && p.code === e.code && p.file === (e.file ?? file));
  expect(found ? { ...found, message: "" } : problems.map(formatProblem)).toEqual(expect.objectContaining({ line: e.line, column: e.column, code: e.code }));
  for (const words of e.says) expect(found?.message).toContain(words);
}

describe("the corpus", () => {
  it("has a case for every file of the folder, and every file is in the README", () => {
    expect(Object.keys(CASES).sort()).toEqual(corpusFiles());
    expect([...corpusIndex().keys()].sort()).toEqual(corpusFiles());
  });

  for (const [name, c] of Object.entries(CASES)) {
    const era = corpusIndex().get(name)?.era ?? "";
    it(`${name} (${era}) ${c.errors || c.someErrors ? "gets the located errors it deserves" : "loads without errors"}`, () => {
      const result = load(name);
      const path = c.as ?? corpusFile(name).path;
      if (c.someErrors) {
        for (const e of c.someErrors) expectError(errors(result), e, path);
        return;
      }
      expect(errors(result).map((p) => [p.line, p.column, p.code])).toEqual((c.errors ?? []).map((e) => [e.line, e.column, e.code]));
      for (const e of c.errors ?? []) expectError(errors(result), e, path);
      expect(result.problems.filter((p) => p.severity === "warning").map((p) => p.code)).toEqual(c.warnings ?? []);
    });
  }

  it("loads the Dec 2022 `.dstack/workflows/*.yaml` folder as one set, with no errors", () => {
    const names = Object.keys(CASES).filter((n) => /^(7[4-9]|8[0-3])-/.test(n));
    const result = loadWorkflows(names.map((n) => corpusFile(n, CASES[n]?.as)));
    expect(errors(result)).toEqual([]);
    expect(result.workflows.map((w) => w.name)).toContain("hello-txt");
    expect(planRunGroup(result.workflows, "cat-txt-2").nodes.map((n) => n.workflow.name)).toEqual(["hello-txt", "cat-txt-2"]);
  });

  it("plans every workflow of every file that loads without errors", () => {
    for (const name of Object.keys(CASES)) {
      const result = load(name);
      if (errors(result).length > 0) continue;
      for (const w of result.workflows) {
        const plan = planRunGroup(result.workflows, w.name);
        expect(plan.nodes[plan.nodes.length - 1]?.workflow.name).toBe(w.name);
      }
    }
  });

  it("validates the whole corpus like `dstack validate` (snapshot)", () => {
    const lines = Object.keys(CASES).flatMap((name) => load(name).problems.map((p) => `${name}: ${formatProblem(p)}`));
    expect(lines.join("\n")).toMatchSnapshot();
  });
});

describe("normalised values from the corpus", () => {
  it("reads `python: 3.10` (a YAML float) as the string 3.10, and 3.7, 3.8, quoted '3.9' as written", () => {
    expect(byName(load("62-docs-2022-08-deps-colon-tag.yaml"), "train").version).toBe("3.10");
    expect(byName(load("63-examples-2022-08-bash-env-deps.yaml"), "download").version).toBe("3.10");
    expect(byName(load("82-examples-2022-12-python-version.yaml"), "python-version").version).toBe("3.7");
    expect(byName(load("38-oleg-python-version-38.yaml"), "download-data").version).toBe("3.8");
    expect(byName(load("26-mmahesh-python-quoted.yaml"), "train-mnist").version).toBe("3.9");
    expect(byName(load("48-mmahesh-flow-style.yaml"), "train").version).toBe("3.9");
  });

  it("reads the `NAME/gpu: N` key with the count from a variable", () => {
    const result = load("13-docs-2022-03-gpu-name-key.yaml");
    expect(byName(result, "prepare").resources.gpu).toEqual({ name: "v100", count: 4 });
    expect(byName(result, "train").resources.gpu).toEqual({ name: "v100", count: 2 });
    const warning = result.problems.find((p) => p.line === 9 && p.code === "renamed-field");
    expect(warning?.message).toContain("write `gpu: {name: v100, count: 4}`");
  });

  it("reports the `NAME/gpu` variable as unknown when no variables file or option defines it", () => {
    const result = load("13-docs-2022-03-gpu-name-key.yaml", { options: {} });
    const problem = errors(result).find((p) => p.code === "unknown-variable");
    expect(problem).toMatchObject({ line: 9, column: 17, endColumn: 28 });
    expect(problem?.message).toContain("`.dstack/variables.yaml` under `prepare:` or `global:`");
    expect(problem?.message).toContain("--pgpu VALUE");
  });

  it("moves a top-level `gpu: 1` under resources, with a warning naming the current place", () => {
    const result = load("11-examples-2022-03-python-toplevel-gpu.yaml");
    expect(byName(result, "train-mnist")).toMatchObject({ file: "train.py", requirements: "requirements.txt", resources: { gpu: { count: 1 } } });
    expect(result.problems.find((p) => p.line === 18)?.message).toBe("`gpu` belongs under `resources:`; write `resources: {gpu: 1}`");
    expect(result.problems.find((p) => p.line === 6)?.message).toBe("`python_script` is an older name of `file`; write `file: download.py`");
  });

  it("gives variables to workflows in env, upper-cased, beside `environment`", () => {
    const train = byName(load("43-examples-2022-05-script-latest.yaml"), "train");
    expect(train.env).toMatchObject({ BATCH_SIZE: "64", TEST_BATCH_SIZE: "1000", LR: "1.0", GAMMA: "0.7", LOG_INTERVAL: "10" });
    expect(train.variables).toMatchObject({ "batch-size": "64", lr: "1.0" });
    const rajesh = byName(load("32-rajeshai-environment-map.yaml"), "train");
    expect(rajesh.env).toEqual({ PGPU: "1", EPOCHS: "10", PYTHONPATH: "src" });
    expect(rajesh.resources.gpu).toEqual({ count: 1 });
  });

  it("keeps variables as written: `2e-5` and `0.00002` stay strings, `None` stays None, `\"\"` is empty", () => {
    const recohut = byName(load("18-recohut-version-tags.yaml"), "finetune-gluemrpc");
    expect(recohut.env.LEARNING_RATE).toBe("2e-5");
    expect(recohut.resources.gpu).toBeUndefined(); // fgpu: 0
    const gpt2 = loadWorkflows([corpusFile("04-gpt2-2021-variables-global.yaml"), { path: ".dstack/workflows.yaml", text: "workflows:\n  - name: finetune-model\n    provider: bash\n    commands: [\"echo ${{ learning_rate }} ${{ val_dataset }} ${{ model }}\"]\n" }]);
    expect(byName(gpt2, "finetune-model").commands).toEqual(["echo 0.00002 None 124M"]);
    const dewarp = byName(load("40-dewarp-memory-cpu-bad-provider.yaml"), "train");
    expect(dewarp.env).toMatchObject({ CONFIG: "configs/segformer.yaml", OVERRIDES: "" });
  });

  it("uses the variables section of each workflow, indentation aside", () => {
    const result = load("21-mmahesh-two-var-sections.yaml");
    expect(byName(result, "train-mnist").resources.gpu).toEqual({ count: 2 });
    expect(byName(result, "check-gpu-count").resources.gpu).toEqual({ count: 2 });
    expect(byName(result, "download-mnist").resources.gpu).toBeUndefined();
  });

  it("reads `env` lists, `$` values and bare names", () => {
    expect(byName(load("69-kengz-env-path-expansion.yaml"), "check-conda").env).toEqual({ PATH: "/opt/conda/envs/mnist/bin:$PATH" });
    expect(byName(load("80-examples-2022-12-envs.yaml"), "hello-env").env).toEqual({ DSTACK_ENV_1: "VAL1", DSTACK_ENV_2: "VAL2", DSTACK_ENV_3: "" });
    expect(byName(load("37-ivan-environment-bool.yaml"), "hello").env).toEqual({ MASTER_FLOMASTER: "true" });
  });

  it("folds multi-line help and keeps unquoted help as written", () => {
    expect(byName(load("75-examples-2022-12-args-run-args.yaml"), "print-args").help).toBe(
      "This workflows allows to pass arguments to the workflow via `dstack run`. Example: `dstack run print-args -l 'Hello, world!'`",
    );
    expect(byName(load("69-kengz-env-path-expansion.yaml"), "pip-download").help).toBe("(pip demo-only) Download the MNIST dataset");
  });

  it("keeps the last of duplicate `artifacts:` keys, as dstack did, while reporting them", () => {
    const w = byName(load("71-eafpres-duplicate-artifacts-key.yaml"), "read_data");
    expect(w.artifacts).toEqual([{ path: "output", mount: true }]);
    expect(w.resources).toEqual({ interruptible: false });
    expect(w.dependsOn).toEqual([{ kind: "tag", tag: "test-dstack-data" }]);
  });

  it("reads every `depends-on`/`deps` form", () => {
    expect(byName(load("18-recohut-version-tags.yaml"), "finetune-gluemrpc").dependsOn).toEqual([{ kind: "tag", tag: "v0.0.2", workflow: "download-gluemrpc" }]);
    expect(byName(load("43-examples-2022-05-script-latest.yaml"), "train").dependsOn).toEqual([{ kind: "tag", tag: "latest", workflow: "download" }]);
    expect(byName(load("62-docs-2022-08-deps-colon-tag.yaml"), "train").dependsOn).toEqual([{ kind: "tag", tag: "some_tag" }]);
    expect(byName(load("63-examples-2022-08-bash-env-deps.yaml"), "train").dependsOn).toEqual([{ kind: "workflow", workflow: "download" }]);
    expect(byName(load("64-examples-2022-08-deps-tag-artifacts-path.yaml"), "train").dependsOn).toEqual([{ kind: "tag", tag: "mnist_data" }]);
    expect(byName(load("68-kengz-deps-abs-artifact.yaml"), "conda-train").dependsOn).toEqual([{ kind: "workflow", workflow: "conda-prepare-data" }]);
    const tags = byName(load("42-oleg-tag-dep-external.yaml"), "preprocess-data");
    expect(tags.dependsOn).toEqual([{ kind: "tag", tag: "latest", workflow: "raw_data" }]);
  });

  it("reads cross-repository dependencies as reuse of that repository's runs", () => {
    expect(byName(load("72-docs-2022-09-deps-tag-cross-repo.yaml"), "cat-txt").dependsOn).toEqual([{ kind: "tag", tag: "txt-file", repo: "dstackai/dstack" }]);
    const deps = load("78-examples-2022-12-deps.yaml");
    expect(byName(deps, "cat-txt-3").dependsOn).toEqual([{ kind: "tag", tag: "latest", workflow: "hello-txt", repo: "dstackai/dstack" }]);
    const plan = planRunGroup(deps.workflows, "cat-txt-3");
    expect(plan.nodes).toEqual([{ workflow: byName(deps, "cat-txt-3"), needs: [], reuse: [{ kind: "tag", tag: "latest", workflow: "hello-txt", repo: "dstackai/dstack" }] }]);
  });

  it("reads artifacts: `./` dropped, `{path, mount}`, absolute paths kept", () => {
    expect(byName(load("76-examples-2022-12-artifacts-mount.yaml"), "hello-sh").artifacts).toEqual([{ path: "output", mount: true }]);
    expect(byName(load("84-docs-2022-12-readme-comments.yaml"), "mnist-train").artifacts).toEqual([{ path: "lightning_logs", mount: false }]);
    const conda = byName(load("77-examples-2022-12-conda.yaml"), "setup-conda");
    expect(conda.artifacts).toEqual([{ path: "/opt/conda/envs/myenv", mount: false }]);
    expect(hasAbsoluteArtifacts(conda)).toBe(true);
    expect(hasAbsoluteArtifacts(byName(load("77-examples-2022-12-conda.yaml"), "use-conda"))).toBe(false);
  });

  it("reads resources: gpu objects with memory, shm_size, sizes in MiB, interruptible, local, nodes", () => {
    expect(byName(load("60-trecover-gpu-object-shm.yaml"), "train").resources).toEqual({ interruptible: false, shmSizeMiB: 16384, gpu: { name: "V100", memoryMiB: 16384, count: 1 } });
    expect(byName(load("28-docs-2022-05-python-env-resources.yaml"), "download-model").resources).toEqual({ interruptible: false, cpu: 2, memoryMiB: 32768, gpu: { count: 1 } });
    const resources = load("83-examples-2022-12-resources.yaml");
    expect(byName(resources, "gpu-v100").resources.gpu).toEqual({ name: "V100", count: 1 });
    expect(byName(resources, "mem-64gb").resources.memoryMiB).toBe(65536);
    expect(byName(resources, "gpu-i").resources).toEqual({ interruptible: true, gpu: { count: 1 } });
    expect(byName(resources, "local-hello").resources.local).toBe(true);
    expect(byName(load("50-ivan-torchrun-nodes.yaml"), "hello").resources).toEqual({ interruptible: false, cpu: 1, memoryMiB: 1024, gpu: { count: 1 }, nodes: 2 });
    expect(byName(load("65-docs-2022-08-torchrun-artifact-path.yaml"), "train")).toMatchObject({ file: "train.py", resources: { nodes: 4, gpu: { name: "K80", count: 4 } } });
  });

  it("reads provider fields: python file/args, curl, docker, fastapi app, streamlit target, gradio, dev environments", () => {
    expect(byName(load("49-docs-2022-06-python-file-args.yaml"), "download-model")).toMatchObject({ provider: "python", file: "download_model.py", args: ["--model", "117M"], env: { PYTHONPATH: "src" } });
    expect(byName(load("15-docs-2022-04-curl.yaml"), "download-dataset")).toMatchObject({
      provider: "curl",
      url: "https://github.com/karpathy/char-rnn/blob/master/data/tinyshakespeare/input.txt",
      output: "raw_dataset/input.txt",
      artifacts: [{ path: "raw_dataset", mount: false }],
    });
    expect(byName(load("31-ivan-docker-cpu-memory.yaml"), "hello")).toMatchObject({ provider: "docker", image: "ubuntu", commands: ["mkdir -p output", "echo 'Hello, world!' > output/hello.txt"] });
    expect(byName(load("53-docs-2022-06-fastapi-app.yaml"), "app")).toMatchObject({ provider: "fastapi", app: "main:app" });
    expect(byName(load("54-docs-2022-06-readme-chain.yaml"), "app")).toMatchObject({ provider: "streamlit", file: "app.py", dependsOn: [{ kind: "tag", tag: "latest", workflow: "train" }] });
    expect(byName(load("52-docs-2022-06-gradio.yaml"), "app")).toMatchObject({ provider: "gradio", file: "app.py" });
    expect(byName(load("67-docs-2022-09-code-with-commands.yaml"), "gpu-v100")).toMatchObject({ provider: "code", setup: ["nvidia-smi"], commands: [] });
    expect(load("79-examples-2022-12-dev-environments.yaml").workflows.map((w) => w.provider)).toEqual(["code", "code", "lab", "notebook"]);
    expect(byName(load("58-docs-2022-07-bash-ports.yaml"), "app")).toMatchObject({ ports: 1, commands: ["pip install -r requirements.txt", "gunicorn main:app --bind 0.0.0.0:$PORT_0"] });
  });

  it("strips `@branch` and renames `jupyter`, and tells custom and other-repository providers apart", () => {
    expect(byName(load("45-ivan-provider-at-branch.yaml"), "hello")).toMatchObject({ provider: "torchrun", file: "example.py", env: { NCCL_DEBUG: "INFO" } });
    expect(byName(load("45-ivan-provider-at-branch.yaml"), "hello").providerSource).toBeUndefined();
    expect(byName(load("47-docs-2022-06-jupyter-experimental.yaml"), "notebook").provider).toBe("notebook");
    expect(byName(load("16-simple-provider-workflow.yaml"), "hello")).toMatchObject({ provider: "hello", providerSource: { kind: "custom" } });
    const remote = byName(load("36-ivan-provider-object-ports-nodes.yaml"), "hello");
    expect(remote).toMatchObject({ provider: "ivan-bokov/dstack-test-providers/pytorch-ddp", providerSource: { kind: "repo", repo: "https://github.com/ivan-bokov/dstack-test-providers" } });
    expect(remote.resources).toEqual({ interruptible: false, nodes: 3, cpu: 1, memoryMiB: 1024 });
    const custom = load("24-mmahesh-custom-provider-workflows.yaml");
    expect(byName(custom, "train-mnist")).toMatchObject({ provider: "train-mnist", file: "train.py", resources: { gpu: { count: 2 } } });
  });

  it("uses `${{ run.args }}` and `${{ run.name }}` when a run gives them, and keeps them otherwise", () => {
    expect(byName(load("73-docs-2022-12-run-args.yaml"), "hello-args")).toMatchObject({ usesRunArgs: true, commands: ["python hello-arg.py ${{ run.args }}"] });
    const run = load("73-docs-2022-12-run-args.yaml", { options: { run: { name: "angry-fox-1", args: ["Hello, world!", "x"] } } });
    expect(byName(run, "hello-args").commands).toEqual(["python hello-arg.py 'Hello, world!' x"]);
  });

  it("reads YAML written with a space before the colon, 4-space and 8-space indents, comments in lists", () => {
    expect(load("29-pragasv-artifacts-typo.yaml").workflows.map((w) => w.name)).toEqual(["download-minst", "train-mnist"]);
    expect(byName(load("35-rajeshai-four-space-indent.yaml"), "train").artifacts).toEqual([{ path: "models", mount: false }]);
    expect(byName(load("61-kengz-bash-code-k80.yaml"), "conda-setup").commands).toHaveLength(10);
  });
});
