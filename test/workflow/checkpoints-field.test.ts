import { describe, expect, it } from "@jest/globals";
import { formatProblem, loadWorkflows, normaliseCheckpointPath, parseAdHocRun, tokenizeCommandLine } from "../../src/workflow/index.js";
import type { LoadResult } from "../../src/workflow/index.js";

const WF = ".dstack/workflows.yaml";

function load(checkpoints: string): LoadResult {
  return loadWorkflows([{ path: WF, text: `workflows:\n  - name: train\n    provider: bash\n    commands: [python train.py]\n    checkpoints: ${checkpoints}\n` }]);
}

const located = (result: LoadResult) => result.problems.map(formatProblem);

describe("`checkpoints:` (saved on a spot interruption, restored on resume)", () => {
  it("reads a list of paths, or one path, normalised like artifact paths", () => {
    expect(load("[./ckpt/, state//last.pt]").workflows[0]?.checkpoints).toEqual(["ckpt", "state/last.pt"]);
    expect(load("ckpt").workflows[0]?.checkpoints).toEqual(["ckpt"]);
    expect(load("[ckpt]").problems).toEqual([]);
  });

  it("leaves the field out when the workflow declares none", () => {
    const result = loadWorkflows([{ path: WF, text: "workflows:\n  - name: train\n    provider: bash\n    commands: [echo]\n" }]);
    expect(result.workflows[0]?.checkpoints).toBeUndefined();
    expect(load("").workflows[0]?.checkpoints).toBeUndefined();
  });

  it("refuses `..` and absolute paths where they are written, keeping the good ones", () => {
    const result = load("[../outside, /root/.cache, ok, a/../../b]");
    expect(located(result)).toEqual([
      ".dstack/workflows.yaml:5:19: error: checkpoint path `../outside` must be a path inside the working directory (no `..`, not absolute), e.g. `ckpt`",
      ".dstack/workflows.yaml:5:31: error: checkpoint path `/root/.cache` must be a path inside the working directory (no `..`, not absolute), e.g. `ckpt`",
      ".dstack/workflows.yaml:5:49: error: checkpoint path `a/../../b` must be a path inside the working directory (no `..`, not absolute), e.g. `ckpt`",
    ]);
    expect(result.problems.every((p) => p.code === "invalid-checkpoint-path")).toBe(true);
    expect(result.workflows[0]?.checkpoints).toEqual(["ok"]);
  });

  it("reports a mapping, a nested list and a repeated path", () => {
    expect(located(load("{path: ckpt}"))).toEqual([".dstack/workflows.yaml:5:5: error: `checkpoints` must be a list of paths, e.g. `checkpoints: [ckpt]`; got a mapping"]);
    expect(located(load("[[ckpt]]"))).toEqual([".dstack/workflows.yaml:5:5: error: a checkpoint must be a single value, e.g. `- ckpt`; got a list"]);
    const twice = load("[ckpt, ./ckpt/]");
    expect(located(twice)).toEqual([".dstack/workflows.yaml:5:25: warning: checkpoint `ckpt` is listed twice"]);
    expect(twice.workflows[0]?.checkpoints).toEqual(["ckpt"]);
  });

  it("is taken by every provider, and `--checkpoint PATH` gives it on the command line", () => {
    const python = loadWorkflows([{ path: WF, text: "workflows:\n  - name: t\n    provider: python\n    file: train.py\n    checkpoints: [ckpt]\n" }]);
    expect(python.problems).toEqual([]);
    expect(python.workflows[0]?.checkpoints).toEqual(["ckpt"]);

    const adHoc = parseAdHocRun(tokenizeCommandLine("python train.py --checkpoint ./ckpt/ --checkpoint ckpt --checkpoint out/last.pt -i"));
    expect("workflow" in adHoc && adHoc.workflow).toMatchObject({ file: "train.py", checkpoints: ["ckpt", "out/last.pt"], resources: { interruptible: true } });
    const bad = parseAdHocRun(tokenizeCommandLine("bash -c train --checkpoint ../x"));
    expect("problems" in bad && bad.problems.map((p) => p.message)).toEqual([expect.stringContaining("checkpoint path `../x` must be a path inside the working directory")]);
  });

  it("normaliseCheckpointPath: the rules in one place", () => {
    expect(normaliseCheckpointPath(" ./a/b/ ")).toEqual({ path: "a/b" });
    expect(normaliseCheckpointPath("")).toEqual({ error: expect.stringContaining("a checkpoint path is empty") });
    expect(normaliseCheckpointPath("/abs")).toHaveProperty("error");
  });
});
