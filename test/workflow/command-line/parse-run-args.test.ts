import { describe, expect, it } from "@jest/globals";
import { applyResourceOverrides, formatProblem, loadWorkflows, parseRunArgs, parseRunCommand, planRunGroup, tokenizeCommandLine } from "../../../src/workflow/index.js";
import type { LoadOptions, Problem, RunArgs, SourceFile, Workflow } from "../../../src/workflow/index.js";
import { corpusFile } from "../corpus.js";

function split(line: string, known: Workflow[]): { run: RunArgs; warnings: Problem[] } {
  const result = parseRunArgs(tokenizeCommandLine(line.replace(/^dstack run /, "")), known);
  if ("problems" in result) throw new Error(result.problems.map(formatProblem).join("\n"));
  return result;
}

/** What a caller does: split, load again with the overrides, plan, apply resources to the target. */
function resolve(files: SourceFile[], line: string, options: LoadOptions = {}): { target: Workflow; run: RunArgs; warnings: Problem[] } {
  const first = loadWorkflows(files, options);
  const { run, warnings } = split(line, first.workflows);
  const loaded = loadWorkflows(files, { variables: { ...options.variables, ...run.variables }, run: { name: "angry-fox-1", args: run.args } });
  expect(loaded.problems.filter((p) => p.severity === "error").map(formatProblem)).toEqual([]);
  const plan = planRunGroup(loaded.workflows, run.workflow);
  const target = plan.nodes[plan.nodes.length - 1]?.workflow as Workflow;
  return { target: applyResourceOverrides(target, run.resources), run, warnings };
}

const wf = (text: string): SourceFile => ({ path: ".dstack/workflows.yaml", text });

/** The README's lines 1-4 (hosted 2022: variables as options) and 27-32 (Dec 2022: resources and run args). */
describe("parseRunArgs: the fixtures README lines", () => {
  it("1: `--model 117M` overrides `global.model`", () => {
    const files = [wf("workflows:\n  - name: download-model\n    provider: bash\n    commands: [\"python3 download_model.py ${{ model }}\"]\n"), corpusFile("10-gpt2-2022-03-variables.yaml")];
    const { target, run } = resolve(files, "dstack run download-model --model 117M");
    expect(run).toEqual({ workflow: "download-model", variables: { model: "117M" }, resources: {}, args: [] });
    expect(target.commands).toEqual(["python3 download_model.py 117M"]);
    expect(target.env).toMatchObject({ MODEL: "117M", MODELS_DIR: "models" });
  });

  it("2: `--epoch 14` is a unique prefix of the variable `epochs`", () => {
    const files = [corpusFile("14-examples-2022-03-gpu-variable.yaml"), corpusFile("09-examples-2022-02-variables.yaml")];
    const { run, target } = resolve(files, "dstack run train-mnist --epoch 14 --seed 2", { variables: { gpu: "1" } });
    expect(run.variables).toEqual({ epochs: "14", seed: "2" });
    expect(target.env).toMatchObject({ EPOCHS: "14", SEED: "2", BATCH_SIZE: "64" });
  });

  it("3: `--pgpu 4` fills `v100/gpu: ${{ pgpu }}`: 4 GPUs named v100", () => {
    const files = [corpusFile("13-docs-2022-03-gpu-name-key.yaml"), { path: ".dstack/variables.yaml", text: "variables:\n  prepare:\n    pgpu: 1\n  train:\n    tgpu: 1\n" }];
    const { run, target } = resolve(files, "dstack run prepare --pgpu 4");
    expect(run.variables).toEqual({ pgpu: "4" });
    expect(target.resources.gpu).toEqual({ name: "v100", count: 4 });
  });

  it("4: `--gpu 2` is the variable `gpu` when the workflow has one (not the resource option)", () => {
    const files = [
      wf("workflows:\n  - name: train\n    provider: python\n    file: train.py\n    resources:\n      gpu: ${{ gpu }}\n"),
      { path: ".dstack/variables.yaml", text: "variables:\n  train:\n    gpu: 1\n    epochs: 1\n    seed: 1\n" },
    ];
    const { run, target } = resolve(files, "dstack run train --gpu 2 --epoch 100 --seed 2");
    expect(run).toEqual({ workflow: "train", variables: { gpu: "2", epochs: "100", seed: "2" }, resources: {}, args: [] });
    expect(target.resources.gpu).toEqual({ count: 2 });
  });

  it("27: `-i --gpu 1` merges into the workflow's resources", () => {
    const files = [corpusFile("43-examples-2022-05-script-latest.yaml"), corpusFile("44-examples-2022-05-variables.yaml")];
    const { run, target } = resolve(files, "dstack run train -i --gpu 1");
    expect(run.resources).toEqual({ interruptible: true, gpu: { count: 1 } });
    expect(target.resources).toEqual({ interruptible: true, gpu: { count: 1 } });
  });

  it("28: `--gpu 4 -i`", () => {
    const { target } = resolve([corpusFile("81-examples-2022-12-hello.yaml")], "dstack run hello --gpu 4 -i");
    expect(target.resources).toEqual({ interruptible: true, gpu: { count: 4 } });
  });

  it("29: `-l` runs locally", () => {
    const { target } = resolve([corpusFile("63-examples-2022-08-bash-env-deps.yaml")], "dstack run download -l");
    expect(target.resources).toEqual({ interruptible: false, local: true });
  });

  it("30: `hello-arg` as printed names no workflow (the YAML says `hello-args`): refused with the right name", () => {
    const known = loadWorkflows([corpusFile("73-docs-2022-12-run-args.yaml")]).workflows;
    const result = parseRunArgs(tokenizeCommandLine(`hello-arg "Hello, world!"`), known);
    expect("problems" in result && result.problems.map(formatProblem)).toEqual(["<command line>:1:1: error: workflow `hello-arg` is not defined — did you mean `hello-args`?; workflows: `hello-args`"]);
    const { run, target, warnings } = resolve([corpusFile("73-docs-2022-12-run-args.yaml")], `dstack run hello-args "Hello, world!"`);
    expect(run.args).toEqual(["Hello, world!"]);
    expect(warnings).toEqual([]);
    expect(target.commands).toEqual(["python hello-arg.py 'Hello, world!'"]);
  });

  it("31: `-l` is local, the rest is `${{ run.args }}`", () => {
    const { run, target } = resolve([corpusFile("75-examples-2022-12-args-run-args.yaml")], "dstack run print-args -l 'Hello, world!'");
    expect(run).toEqual({ workflow: "print-args", variables: {}, resources: { local: true }, args: ["Hello, world!"] });
    expect(target.commands).toEqual(["python args/print-args.py 'Hello, world!'"]);
    expect(target.resources.local).toBe(true);
  });

  it("32: `--remote` is no option: it becomes a run argument, with a warning since `hello` ignores them", () => {
    const { run, target, warnings } = resolve([corpusFile("81-examples-2022-12-hello.yaml")], "dstack run hello --remote --gpu 4 --interruptible");
    expect(run.args).toEqual(["--remote"]);
    expect(target.resources).toEqual({ interruptible: true, gpu: { count: 4 } });
    expect(warnings.map(formatProblem)).toEqual([
      "<command line>:1:7: warning: `--remote` is not an option of `hello` and it does not use `${{ run.args }}`, so these arguments are ignored",
    ]);
  });
});

describe("parseRunArgs: problems", () => {
  const known = loadWorkflows([corpusFile("19-recohut-variables-two-sections.yaml"), corpusFile("18-recohut-version-tags.yaml")]).workflows;

  it("refuses an ambiguous abbreviation and a missing value, at their columns", () => {
    const result = parseRunArgs(["train-mnist", "--g", "1", "--seed"], known);
    expect("problems" in result && result.problems.map(formatProblem)).toEqual([
      "<command line>:1:13: error: `--g` is ambiguous: it could be `--gpu`, `--gamma`; write it in full",
      "<command line>:1:19: error: `--seed` needs a value, e.g. `--seed VALUE`",
    ]);
  });

  it("accepts `_` for `-` in variable names and `--name=value`", () => {
    expect(split("train-mnist --batch_size=32 --log-interval 5 --test 9", known).run.variables).toEqual({ "batch-size": "32", "log-interval": "5", "test-batch-size": "9" });
  });

  it("suggests the variable meant when an option is unknown", () => {
    const { warnings, run } = split("train-mnist --sed 2", known);
    expect(run.args).toEqual(["--sed", "2"]);
    expect(warnings[0]?.message).toContain("(`--sed`: did you mean `seed`?)");
  });
});

describe("parseRunCommand", () => {
  const known = loadWorkflows([corpusFile("81-examples-2022-12-hello.yaml")]).workflows;

  it("runs a workflow by name, a provider ad hoc, and refuses anything else", () => {
    expect(parseRunCommand(["hello", "--gpu", "1"], known)).toMatchObject({ kind: "workflow", run: { workflow: "hello", resources: { gpu: { count: 1 } } } });
    expect(parseRunCommand(["python", "train.py"], known)).toMatchObject({ kind: "ad-hoc", workflow: { provider: "python", file: "train.py" } });
    const invalid = parseRunCommand(["helo"], known);
    expect(invalid.kind === "invalid" && invalid.problems[0]?.message).toBe(
      "`helo` is neither a workflow nor a provider — did you mean `hello`?; workflows: `hello`; providers: python, torchrun, streamlit, gradio, fastapi, code, lab, notebook, bash, docker, curl, tensorboard",
    );
  });
});
