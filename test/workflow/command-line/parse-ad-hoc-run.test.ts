import { describe, expect, it } from "@jest/globals";
import { formatProblem, parseAdHocRun, tokenizeCommandLine } from "../../../src/workflow/index.js";
import type { Problem, Workflow } from "../../../src/workflow/index.js";

/** `dstack run ...` as printed in dstack's docs, parsed as the CLI and PR comments do. */
function run(line: string): Workflow {
  const result = parseAdHocRun(tokenizeCommandLine(line.replace(/^dstack run /, "")));
  if ("problems" in result) throw new Error(result.problems.map(formatProblem).join("\n"));
  return result.workflow;
}

function problems(line: string): Problem[] {
  const result = parseAdHocRun(tokenizeCommandLine(line.replace(/^dstack run /, "")));
  if ("workflow" in result) throw new Error(`expected problems, got ${JSON.stringify(result.workflow)}`);
  return result.problems;
}

const none = { interruptible: false };
const artifacts = (...paths: string[]) => paths.map((path) => ({ path, mount: false }));

/** The README's ad-hoc lines (section B and C), each with the fields it lists. */
describe("parseAdHocRun: the fixtures README lines", () => {
  it("5: python with unknown flags passed to the script, env, artifact, cpu, memory, gpu", () => {
    expect(run("dstack run python download_model.py --model 117M -e PYTHONPATH=src --artifact models --cpu 2 --memory 32GB --gpu 1")).toMatchObject({
      name: "python",
      provider: "python",
      file: "download_model.py",
      args: ["--model", "117M"],
      env: { PYTHONPATH: "src" },
      artifacts: artifacts("models"),
      resources: { ...none, cpu: 2, memoryMiB: 32768, gpu: { count: 1 } },
      source: { file: "<command line>", line: 1, column: 1 },
    });
  });

  it("6: python with requirements", () => {
    const w = run("dstack run python train.py -r requirements.txt -a checkpoint --gpu 1");
    expect(w).toMatchObject({ file: "train.py", requirements: "requirements.txt", artifacts: artifacts("checkpoint"), resources: { ...none, gpu: { count: 1 } }, args: [] });
    expect(w.version).toBeUndefined();
  });

  it("7: curl URL -o OUTPUT --artifact", () => {
    expect(run("dstack run curl https://github.com/karpathy/char-rnn/blob/master/data/tinyshakespeare/input.txt -o raw_dataset/input.txt --artifact raw_dataset")).toMatchObject({
      provider: "curl",
      url: "https://github.com/karpathy/char-rnn/blob/master/data/tinyshakespeare/input.txt",
      output: "raw_dataset/input.txt",
      artifacts: artifacts("raw_dataset"),
    });
  });

  it("8, 9: docker IMAGE after the options, no commands", () => {
    expect(run("dstack run docker --artifact output --cpu 1 --memory 1GB ubuntu")).toMatchObject({ provider: "docker", image: "ubuntu", commands: [], artifacts: artifacts("output"), resources: { ...none, cpu: 1, memoryMiB: 1024 } });
    expect(run("dstack run docker hello-world")).toMatchObject({ image: "hello-world", commands: [] });
  });

  it("docker IMAGE COMMAND ARGS: everything after the image is one command", () => {
    expect(run(`docker -a out ubuntu echo "Hello, world!" -a x`).commands).toEqual(["echo 'Hello, world!' -a x"]);
  });

  it("10, 21: torchrun with --nnodes", () => {
    expect(run("dstack run torchrun train.py -r requirements.txt -a checkpoint --nnodes 4")).toMatchObject({ provider: "torchrun", file: "train.py", requirements: "requirements.txt", artifacts: artifacts("checkpoint"), resources: { ...none, nodes: 4 } });
    expect(run("dstack run torchrun train.py --nnodes 4 -r requirements.txt -a model --gpu 4 --gpu-name K80")).toMatchObject({
      file: "train.py",
      requirements: "requirements.txt",
      artifacts: artifacts("model"),
      resources: { ...none, nodes: 4, gpu: { count: 4, name: "K80" } },
    });
  });

  it("11, 12: streamlit (its positional is the target) and gradio", () => {
    expect(run("dstack run streamlit app.py -r requirements.txt --gpu 1")).toMatchObject({ provider: "streamlit", file: "app.py", requirements: "requirements.txt", resources: { ...none, gpu: { count: 1 } } });
    expect(run("dstack run gradio app.py -r requirements.txt --gpu 1")).toMatchObject({ provider: "gradio", file: "app.py", requirements: "requirements.txt", resources: { ...none, gpu: { count: 1 } } });
  });

  it("13, 22: fastapi APP, strict", () => {
    expect(run("dstack run fastapi main:app -r requirements.txt --gpu 1")).toMatchObject({ provider: "fastapi", app: "main:app", requirements: "requirements.txt", resources: { ...none, gpu: { count: 1 } } });
    expect(run("dstack run fastapi app.py -r requirements.txt --gpu 1 --gpu-name K80")).toMatchObject({ app: "app.py", resources: { ...none, gpu: { count: 1, name: "K80" } } });
    expect(problems("fastapi main:app extra").map(formatProblem)).toEqual(["<command line>:1:18: error: unexpected argument `extra` for `fastapi` (it takes one APP, e.g. `main:app`)"]);
  });

  it("14: lab, notebook and code", () => {
    for (const provider of ["lab", "notebook", "code"]) {
      expect(run(`dstack run ${provider} --gpu 1 -a output`)).toMatchObject({ provider, artifacts: artifacts("output"), resources: { ...none, gpu: { count: 1 } } });
    }
  });

  it("15: `--depends-on` is no option: it reaches the script, as the README lists", () => {
    expect(run("dstack run python train.py --epoch 100 --seed 2 --batch-size 128 --depends-on prepare:latest --artifact checkpoint --gpu 1")).toMatchObject({
      file: "train.py",
      artifacts: artifacts("checkpoint"),
      resources: { ...none, gpu: { count: 1 } },
      args: ["--epoch", "100", "--seed", "2", "--batch-size", "128", "--depends-on", "prepare:latest"],
      dependsOn: [],
    });
  });

  it("16, 17: `--dep` is a dependency, as the docs meant (2022's CLI had it commented out)", () => {
    expect(run("dstack run python train.py --dep prepare:latest --artifact checkpoint --gpu 1")).toMatchObject({
      file: "train.py",
      args: [],
      dependsOn: [{ kind: "tag", tag: "latest", workflow: "prepare" }],
      artifacts: artifacts("checkpoint"),
      resources: { ...none, gpu: { count: 1 } },
    });
    expect(run("dstack run streamlit app.py --dep model:latest")).toMatchObject({ file: "app.py", args: [], dependsOn: [{ kind: "tag", tag: "latest", workflow: "model" }] });
  });

  it("18: code takes no file: the stray argument is located", () => {
    expect(problems("dstack run code app.py --dep prepare:latest --gpu 1")).toEqual([
      {
        file: "<command line>",
        line: 1,
        column: 6,
        endLine: 1,
        endColumn: 12,
        severity: "error",
        code: "invalid-argument",
        message: "unexpected argument `app.py` for `code` (it takes no file or arguments)",
      },
    ]);
  });

  it("19: python with a named GPU", () => {
    expect(run("dstack run python train.py -r requirements.txt -a model --gpu 4 --gpu-name K80")).toMatchObject({ file: "train.py", requirements: "requirements.txt", artifacts: artifacts("model"), resources: { ...none, gpu: { count: 4, name: "K80" } } });
  });

  it("20: docker without an image is refused, saying how to write it", () => {
    const [problem] = problems(`dstack run docker -c "mkdir -p output && echo 'Hello, world!' > output/hello.txt" -a output --gpu-name K80`);
    expect(problem).toMatchObject({ line: 1, column: 1, code: "missing-argument" });
    expect(problem?.message).toContain("`docker` needs an image: `dstack run docker IMAGE [COMMAND]`");
  });

  it("23, 25: bash -c with artifacts and GPUs", () => {
    expect(run(`dstack run bash -c "pip install -r requirements.txt && python train.py" -a model --gpu 4 --gpu-name K80`)).toMatchObject({
      provider: "bash",
      commands: ["pip install -r requirements.txt && python train.py"],
      artifacts: artifacts("model"),
      resources: { ...none, gpu: { count: 4, name: "K80" } },
    });
    expect(run(`dstack run bash -c "pip install -r requirements.txt && python train.py" --artifact "checkpoint" --gpu 1`)).toMatchObject({
      commands: ["pip install -r requirements.txt && python train.py"],
      artifacts: artifacts("checkpoint"),
      resources: { ...none, gpu: { count: 1 } },
    });
  });

  it("24: tensorboard RUN...", () => {
    expect(run("dstack run tensorboard selfish-wolverine-1")).toMatchObject({ provider: "tensorboard", runs: ["selfish-wolverine-1"] });
  });

  it("26: `-d :tag` is a tag dependency, as the same page's YAML meant", () => {
    expect(run(`dstack run bash -c "pip install requirements.txt && python src/train.py" -d :some_tag -a checkpoint -i --gpu 1`)).toMatchObject({
      commands: ["pip install requirements.txt && python src/train.py"],
      dependsOn: [{ kind: "tag", tag: "some_tag" }],
      artifacts: artifacts("checkpoint"),
      resources: { interruptible: true, gpu: { count: 1 } },
    });
  });
});

describe("parseAdHocRun: options and problems", () => {
  it("accepts `--flag=value`, `-e NAME`, `-w`, `--python`, `-l`, `--gpu-memory`, `--shm-size`, `--` and `@branch`", () => {
    expect(run("python@experimental train.py --gpu=2 --gpu-memory 16GB --shm-size=8GB -e DEBUG -w src --python 3.10 -l -- -a x")).toMatchObject({
      provider: "python",
      file: "train.py",
      env: { DEBUG: "" },
      workingDir: "src",
      version: "3.10",
      args: ["-a", "x"],
      resources: { interruptible: false, local: true, shmSizeMiB: 8192, gpu: { count: 2, memoryMiB: 16384 } },
    });
  });

  it("locates bad values at the value's column in the joined line", () => {
    expect(problems("python train.py --gpu two --memory=lots -a ../x").map(formatProblem)).toEqual([
      "<command line>:1:23: error: `--gpu` takes a whole number, e.g. `--gpu 2`; got `two`",
      "<command line>:1:36: error: `--memory` takes a size such as `16GB` or `512MB`; got `lots`",
      "<command line>:1:44: error: artifact path `../x` leaves the working directory (`..`); artifacts are paths inside it, e.g. `output`",
    ]);
  });

  it("names a missing value, a missing file, unknown providers and unknown bash arguments", () => {
    expect(problems("python train.py --gpu")[0]?.message).toBe("`--gpu` needs a value, e.g. `--gpu N`");
    expect(problems("python --gpu 1")[0]?.message).toBe("`python` needs the file to run: `dstack run python FILE [ARGS...]`");
    expect(problems("pyton train.py")[0]?.message).toContain("unknown provider `pyton` — did you mean `python`?");
    expect(problems("bash -c x --frobnicate")[0]).toMatchObject({ column: 11, message: 'unknown option `--frobnicate` for `bash` (pass the commands with `-c "..."`)' });
    expect(problems("curl https://x.org/a")[0]?.message).toContain("`curl` needs `-o OUTPUT`");
    expect(problems("curl not-a-url -o x")[0]?.message).toContain("is not a URL");
    expect(problems("")[0]?.message).toContain("nothing to run");
  });
});
