import { describe, expect, it } from "@jest/globals";
import { formatProblem, hasErrors, loadWorkflows } from "../../src/workflow/index.js";
import type { LoadOptions, LoadResult, Problem, SourceFile, Workflow } from "../../src/workflow/index.js";

const WF = ".dstack/workflows.yaml";

function load(text: string, options?: LoadOptions, more: SourceFile[] = []): LoadResult {
  return loadWorkflows([{ path: WF, text }, ...more], options);
}

function only(result: LoadResult): Workflow {
  expect(result.problems.filter((p) => p.severity === "error").map(formatProblem)).toEqual([]);
  expect(result.workflows).toHaveLength(1);
  return result.workflows[0] as Workflow;
}

function problem(result: LoadResult, code: string): Problem {
  const found = result.problems.find((p) => p.code === code);
  if (found === undefined) throw new Error(`no ${code} among:\n${result.problems.map(formatProblem).join("\n")}`);
  return found;
}

const bash = (extra = "") => `workflows:\n  - name: hello\n    provider: bash\n    commands: [echo hi]\n${extra}`;

describe("loadWorkflows: fields", () => {
  it("normalises a python workflow with every seed field", () => {
    const w = only(
      load(`workflows:
  - name: train
    help: Trains it
    provider: python
    file: train.py
    args: ["--epochs", "10"]
    requirements: ./requirements.txt
    version: 3.10
    environment:
      PYTHONPATH: src
    working_dir: ./src/
    before_run: ["pip install -e ."]
    ports: 2
    artifacts: ["model", "./out/"]
    resources: {gpu: {name: A100, count: 2, memory: 40GB}, memory: 16GB, cpu: 8, shm_size: 1.5GiB, interruptible: yes}
    on: push
`),
    );
    expect(w).toEqual({
      name: "train",
      help: "Trains it",
      provider: "python",
      file: "train.py",
      args: ["--epochs", "10"],
      requirements: "requirements.txt",
      version: "3.10",
      commands: [],
      setup: ["pip install -e ."],
      env: { PYTHONPATH: "src" },
      workingDir: "src",
      ports: 2,
      artifacts: [
        { path: "model", mount: false },
        { path: "out", mount: false },
      ],
      resources: { gpu: { name: "A100", count: 2, memoryMiB: 40960 }, memoryMiB: 16384, cpu: 8, shmSizeMiB: 1536, interruptible: true },
      dependsOn: [],
      on: { push: { branches: [] } },
      variables: {},
      source: { file: WF, line: 2, column: 5 },
    });
  });

  it("splits `args` given as one string like a shell, and commands given as one multi-line string", () => {
    const w = only(load(`workflows:\n  - name: a\n    provider: python\n    file: a.py\n    args: --name "Hello, world" -v\n`));
    expect(w.args).toEqual(["--name", "Hello, world", "-v"]);
    const b = only(load(`workflows:\n  - name: b\n    provider: bash\n    commands: |\n      pip install x\n\n      python train.py \\\n        --epochs 2\n`));
    expect(b.commands).toEqual(["pip install x", "python train.py   --epochs 2"]);
  });

  it("expands `- ${{ run.args }}` in `args` into the run's arguments", () => {
    const text = `workflows:\n  - name: a\n    provider: python\n    file: a.py\n    args: ["--x", "\${{ run.args }}"]\n`;
    expect(only(load(text, { run: { args: ["Hello, world!", "-v"] } })).args).toEqual(["--x", "Hello, world!", "-v"]);
    expect(only(load(text)).args).toEqual(["--x", "${{ run.args }}"]);
  });

  it("reads `script`/`python_script` as `file` and `python` as `version`, warning with the current key", () => {
    const result = load(`workflows:\n  - name: a\n    provider: python\n    python_script: a.py\n    python: 3.9\n`);
    expect(only(result)).toMatchObject({ file: "a.py", version: "3.9" });
    expect(result.problems.map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:4:5: warning: `python_script` is an older name of `file`; write `file: a.py`",
      ".dstack/workflows.yaml:5:5: warning: `python` is an older name of `version`; write `version: 3.9`",
    ]);
  });

  it("refuses two keys for the same field", () => {
    const result = load(`workflows:\n  - name: a\n    provider: python\n    file: a.py\n    script: b.py\n`);
    expect(problem(result, "conflicting-fields")).toMatchObject({ line: 5, column: 5 });
    expect(problem(result, "conflicting-fields").message).toBe("`script` and `file` both set `file`; keep only `file`");
  });

  it("names what a provider needs when it is missing", () => {
    const result = load(`workflows:\n  - name: a\n    provider: curl\n  - name: b\n    provider: docker\n  - name: c\n    provider: python\n`);
    expect(result.problems.filter((p) => p.code === "missing-field").map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:3:5: error: workflow `a` (provider `curl`) needs `url`, e.g. `url: https://example.com/data.csv`",
      ".dstack/workflows.yaml:3:5: error: workflow `a` (provider `curl`) needs `output`, e.g. `output: data/data.csv`",
      ".dstack/workflows.yaml:5:5: error: workflow `b` (provider `docker`) needs `image`, e.g. `image: ubuntu`",
      ".dstack/workflows.yaml:7:5: error: workflow `c` (provider `python`) needs `file`, e.g. `file: train.py`",
    ]);
  });

  it("suggests the field meant, and says which provider has a field given to the wrong one", () => {
    const typo = load(`workflows:\n  - name: a\n    provider: python\n    file: a.py\n    requirments: r.txt\n`);
    expect(problem(typo, "unknown-field").message).toBe("unknown field `requirments` for provider `python` — did you mean `requirements`?");
    const misplaced = load(`workflows:\n  - name: a\n    provider: python\n    file: a.py\n    image: ubuntu\n`);
    expect(problem(misplaced, "unknown-field").message).toContain("(`image` is a field of `docker`)");
    expect(problem(misplaced, "unknown-field").message).toContain("`python` takes `help`, `depends-on`");
  });

  it("reports a misspelt required field once, as the typo, not also as missing", () => {
    const result = load(`workflows:\n  - name: a\n    provider: bash\n    comands: [echo a]\n  - name: b\n    provider: curl\n    ulr: https://example.com/x\n    outptu: x\n`);
    expect(result.problems.map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:4:5: error: unknown field `comands` for provider `bash` — did you mean `commands`?",
      ".dstack/workflows.yaml:7:5: error: unknown field `ulr` for provider `curl` — did you mean `url`?",
      ".dstack/workflows.yaml:8:5: error: unknown field `outptu` for provider `curl` — did you mean `output`?",
    ]);
    // A typo that meant another field leaves the required one missing, and says so.
    const other = load(`workflows:\n  - name: a\n    provider: bash\n    enviroment: {A: "1"}\n`);
    expect(other.problems.map((p) => p.code)).toEqual(["missing-field", "unknown-field"]);
  });

  it("reads a command that YAML took for a mapping as an error with the quoted fix", () => {
    const result = load(`workflows:\n  - name: a\n    provider: bash\n    commands:\n      - echo step: one\n`);
    expect(problem(result, "text-read-as-mapping")).toMatchObject({ line: 5, column: 9 });
    expect(problem(result, "text-read-as-mapping").message).toContain('quote it: `- "echo step: one"`');
  });

  it("blames the `{` of an unquoted `${{ }}` inside `[...]`, not a `: ` there is none of, in commands and args", () => {
    const result = load(`workflows:\n  - name: a\n    provider: bash\n    commands: [python x.py --epochs \${{ epochs }}]\n  - name: b\n    provider: python\n    file: x.py\n    args: [--epochs, \${{ epochs }}]\n`, {
      variables: { epochs: "1" },
    });
    expect(result.problems.filter((p) => p.code === "text-read-as-mapping").map(formatProblem)).toEqual([
      '.dstack/workflows.yaml:4:16: error: this command is read as a mapping because `{` starts a mapping inside `[...]`; quote it: `"python x.py --epochs ${{ epochs }}"`',
      '.dstack/workflows.yaml:8:22: error: this item of `args` is read as a mapping because `{` starts a mapping inside `[...]`; quote it: `"${{ epochs }}"`',
    ]);
  });

  it("reads env as a map or a K=V list and refuses bad names", () => {
    expect(only(load(bash("    env: [A=1, B=x=y, C]\n"))).env).toEqual({ A: "1", B: "x=y", C: "" });
    const bad = load(bash("    environment: {1X: a}\n"));
    expect(problem(bad, "invalid-env-name")).toMatchObject({ line: 5, column: 19 });
  });

  it("refuses paths outside the working directory", () => {
    const result = load(bash("    working_dir: ../x\n    artifacts: [../secrets, a/../../b, ok]\n"));
    expect(result.problems.filter((p) => p.severity === "error").map((p) => [p.code, p.line, p.column])).toEqual([
      ["invalid-path", 5, 18],
      ["invalid-artifact-path", 6, 17],
      ["invalid-artifact-path", 6, 29],
    ]);
    expect(problem(result, "invalid-artifact-path").message).toBe("artifact path `../secrets` leaves the working directory (`..`); artifacts are paths inside it, e.g. `output`");
    expect(result.workflows[0]?.artifacts).toEqual([{ path: "ok", mount: false }]);
  });

  it("keeps absolute artifact paths and warns about duplicates", () => {
    const result = load(bash("    artifacts: [/root/.cache/huggingface/, out, ./out]\n"));
    expect(result.workflows[0]?.artifacts).toEqual([
      { path: "/root/.cache/huggingface", mount: false },
      { path: "out", mount: false },
    ]);
    expect(problem(result, "duplicate-artifact")).toMatchObject({ severity: "warning", line: 5, column: 49 });
  });
});

describe("loadWorkflows: resources", () => {
  const res = (yaml: string) => load(bash(`    resources: ${yaml}\n`));

  it("reads sizes as MiB", () => {
    expect(only(res("{memory: 512MB, shm_size: 1.5GiB}")).resources).toEqual({ interruptible: false, memoryMiB: 512, shmSizeMiB: 1536 });
    expect(only(res("{memory: 2048}")).resources.memoryMiB).toBe(2048);
  });

  it("reads a gpu count, an object (count defaults to 1) and `gpu: 0` as no GPU", () => {
    expect(only(res("{gpu: 2}")).resources.gpu).toEqual({ count: 2 });
    expect(only(res("{gpu: {name: K80}}")).resources.gpu).toEqual({ count: 1, name: "K80" });
    expect(only(res("{gpu: 0}")).resources.gpu).toBeUndefined();
  });

  it("reports bad values and unknown keys with the fix", () => {
    const result = res("{gpus: 1, shm-size: 1GB, memory: 16 gigs, cpu: 0, gpu: {nmae: K80}, interruptible: maybe}");
    expect(result.problems.map((p) => [p.code, p.column, p.message])).toEqual([
      ["unknown-field", 17, "unknown resource `gpus` — did you mean `gpu`?"],
      ["unknown-field", 26, "unknown resource `shm-size` — did you mean `shm_size`?"],
      ["invalid-size", 49, "`memory` must be a size such as `16GB`, `512MB` or `1.5GiB`; got `16 gigs`"],
      ["invalid-value", 63, "`cpu` must be a whole number of at least 1, e.g. `cpu: 4`; got `0`"],
      ["unknown-field", 72, "unknown GPU field `nmae` — did you mean `name`?"],
      ["invalid-value", 99, "`interruptible` must be `true` or `false`; got `maybe`"],
    ]);
  });
});

describe("loadWorkflows: triggers", () => {
  it("reads `on:` as a word, a list or a mapping of filters", () => {
    expect(only(load(bash("    on: [push, tag]\n"))).on).toEqual({ push: { branches: [] }, tag: { tags: [] } });
    expect(only(load(bash('    on:\n      push: {branches: [main, "release/*"]}\n      tag:\n        tags: "v*"\n'))).on).toEqual({
      push: { branches: ["main", "release/*"] },
      tag: { tags: ["v*"] },
    });
  });

  it("refuses unknown triggers and filters", () => {
    const result = load(bash("    on: {psuh: null, pull_request: null, tag: {branches: [x]}}\n"));
    expect(result.problems.map((p) => p.message)).toEqual([
      "unknown trigger `psuh` — did you mean `push`?",
      "unknown trigger `pull_request`; triggers are `push` and `tag`",
      "unknown field `branches` of trigger `tag`; it takes `tags`",
    ]);
  });
});

describe("loadWorkflows: dependencies", () => {
  const two = (deps: string) => `workflows:\n  - name: download\n    provider: bash\n    commands: [x]\n  - name: train\n    provider: bash\n    commands: [x]\n    depends-on: ${deps}\n`;

  it("says which workflow is meant when a dependency is misspelt", () => {
    const result = load(two("[downlaod]"));
    expect(problem(result, "unknown-dependency")).toMatchObject({ line: 8, column: 18, severity: "error" });
    expect(problem(result, "unknown-dependency").message).toBe("workflow `train` depends on `downlaod`, which is not defined — did you mean `download`?");
  });

  it("warns (only) about a tag dependency on a workflow name that looks misspelt", () => {
    const typo = load(two('["downlaod:v1"]'));
    expect(problem(typo, "unknown-dependency")).toMatchObject({ severity: "warning" });
    expect(problem(typo, "unknown-dependency").message).toContain("did you mean `download:v1`?");
    expect(load(two('["raw_data:latest"]')).problems).toEqual([]);
  });

  it("reports cycles by name, and self-dependencies", () => {
    const cycle = load(`workflows:
  - {name: a, provider: bash, commands: [x], depends-on: [b]}
  - {name: b, provider: bash, commands: [x], depends-on: [c]}
  - {name: c, provider: bash, commands: [x], depends-on: [a]}
  - {name: d, provider: bash, commands: [x], deps: [d]}
`);
    expect(cycle.problems.map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:2:59: error: dependency cycle: a -> b -> c -> a; a workflow cannot wait for itself, remove one of these dependencies",
      ".dstack/workflows.yaml:5:53: error: workflow `d` depends on itself; a workflow cannot wait for itself, remove one of these dependencies",
    ]);
  });

  it("reads string and object forms, `deps` and `mount`", () => {
    const w = load(two('["download", ":v2", "download:latest", {workflow: download, tag: best, mount: true}, "owner/repo/name:t"]')).workflows[1];
    expect(w?.dependsOn).toEqual([
      { kind: "workflow", workflow: "download" },
      { kind: "tag", tag: "v2" },
      { kind: "tag", tag: "latest", workflow: "download" },
      { kind: "tag", tag: "best", workflow: "download", mount: true },
      { kind: "tag", tag: "t", workflow: "name", repo: "owner/repo" },
    ]);
  });

  it("refuses malformed dependencies and unknown object keys", () => {
    const result = load(two('["org/name", "a:b:c", {tga: x}, {mount: true}]'));
    expect(result.problems.map((p) => p.code)).toEqual(["invalid-dependency", "invalid-dependency", "unknown-field", "missing-field"]);
    expect(result.problems[0]?.message).toContain("`owner/repo/name`");
    expect(result.problems[2]?.message).toContain("did you mean `tag`?");
  });

  it("refuses `depends-on` and `deps` together, and warns about a dependency listed twice", () => {
    const result = load(two("[download, download]\n    deps: [download]"));
    expect(result.problems.map((p) => [p.severity, p.code])).toEqual([
      ["warning", "duplicate-dependency"],
      ["error", "conflicting-fields"],
    ]);
  });
});

describe("loadWorkflows: names and providers", () => {
  it("refuses duplicate names, across files too", () => {
    const result = load(bash(), undefined, [{ path: ".dstack/workflows/more.yaml", text: bash() }]);
    expect(problem(result, "duplicate-workflow")).toMatchObject({ file: ".dstack/workflows/more.yaml", line: 2, column: 11 });
    expect(problem(result, "duplicate-workflow").message).toBe("workflow `hello` is defined twice (first at .dstack/workflows.yaml:2); rename one");
    expect(result.workflows).toHaveLength(1);
  });

  it("refuses names that cannot be referenced", () => {
    const result = load(`workflows:\n  - name: "train:v1"\n    provider: bash\n    commands: [x]\n`);
    expect(problem(result, "invalid-name")).toMatchObject({ line: 2, column: 11 });
    expect(result.workflows).toEqual([]);
  });

  it("lists the known providers for an unknown one, with a hint", () => {
    const result = load(`workflows:\n  - name: a\n    provider: pyhton\n`);
    expect(problem(result, "unknown-provider")).toMatchObject({ line: 3, column: 15 });
    expect(problem(result, "unknown-provider").message).toBe(
      "unknown provider `pyhton` — did you mean `python`? known providers: `python`, `bash`, `docker`, `curl`, `torchrun`, `code`, `lab`, `notebook`, `streamlit`, `gradio`, `fastapi` and `tensorboard`",
    );
  });

  it("names a missing provider", () => {
    const result = load(`workflows:\n  - name: a\n    file: x.py\n`);
    expect(problem(result, "missing-provider")).toMatchObject({ line: 2, column: 5 });
  });

  it("asks for `provider: bash` when `commands` has no provider and no image, not for the 2021 docker form", () => {
    const result = load(`workflows:\n  - name: a\n    commands: [echo a]\n`);
    expect(result.problems).toHaveLength(1);
    expect(problem(result, "missing-provider")).toMatchObject({ line: 3, column: 5 });
    expect(problem(result, "missing-provider").message).toBe(
      "workflow `a` has no `provider`; add `provider: bash` to run its `commands` (or `provider: docker` with an `image` to run them in that image)",
    );
  });

  it("validates the fields of providers it does not run", () => {
    const result = load(`workflows:\n  - name: a\n    provider: tensorboard\n    runs: [fox-1]\n    logdir: logs\n  - name: b\n    provider: fastapi\n    app: main:app\n    file: x\n`);
    expect(result.workflows[0]).toMatchObject({ provider: "tensorboard", runs: ["fox-1"], logdir: "logs" });
    expect(problem(result, "unknown-field").message).toContain("unknown field `file` for provider `fastapi`");
  });
});

describe("loadWorkflows: variables", () => {
  const vars = (text: string): SourceFile => ({ path: ".dstack/variables.yaml", text });
  const text = `workflows:\n  - name: train\n    provider: bash\n    commands: ["python train.py --epochs \${{ epochs }} --lr \${{lr}}"]\n    env: [EPOCHS=override]\n`;

  it("substitutes global and per-workflow variables, and passes them as upper-case env", () => {
    const w = only(load(text, undefined, [vars("variables:\n  global:\n    lr: 0.10\n  train:\n    epochs: 5\n    batch-size: 64\n")]));
    expect(w.commands).toEqual(["python train.py --epochs 5 --lr 0.10"]);
    expect(w.env).toEqual({ LR: "0.10", EPOCHS: "override", BATCH_SIZE: "64" });
  });

  it("lets `options.variables` override the file and define what it lacks", () => {
    const w = only(load(text, { variables: { epochs: "50", lr: "1e-3" } }, [vars("variables:\n  train:\n    epochs: 5\n")]));
    expect(w.commands).toEqual(["python train.py --epochs 50 --lr 1e-3"]);
    expect(w.variables).toEqual({ epochs: "50", lr: "1e-3" });
  });

  it("reports an unknown variable at its exact position, with the closest name", () => {
    const result = load(text, undefined, [vars("variables:\n  train:\n    epoch: 5\n    lr: 1\n")]);
    expect(problem(result, "unknown-variable")).toMatchObject({ line: 4, column: 42, endColumn: 55 });
    expect(problem(result, "unknown-variable").message).toBe(
      "unknown variable `epochs` — did you mean `epoch`? Otherwise define it in `.dstack/variables.yaml` under `train:` or `global:`, or pass `--epochs VALUE` to `dstack run`",
    );
  });

  it("reports a malformed substitution", () => {
    const result = load(bash("    env:\n      - A=${{ not valid }}\n      - B=${{ open\n"));
    expect(result.problems.map((p) => [p.code, p.line, p.column])).toEqual([
      ["invalid-substitution", 6, 11],
      ["invalid-substitution", 7, 11],
    ]);
    expect(result.problems.map((p) => p.message)).toEqual([
      "`${{ not valid }}` is not a variable reference; write `${{ name }}` with a variable name (ASCII letters, digits, `-`, `_`, `.`)",
      "`${{` is not closed; write `${{ name }}`",
    ]);
  });

  it("warns about a variables section that names no workflow", () => {
    const result = load(text, { variables: { epochs: "1", lr: "1" } }, [vars("variables:\n  trian:\n    x: 1\n")]);
    expect(problem(result, "unknown-variables-section")).toMatchObject({ file: ".dstack/variables.yaml", line: 2, column: 3, severity: "warning" });
    expect(problem(result, "unknown-variables-section").message).toContain("did you mean `train`?");
  });

  it("warns when a command uses `$name` for a variable, which dstack does not replace", () => {
    const result = load(bash("    artifacts: [\"out/$epochs\"]\n"), undefined, [vars("variables:\n  hello:\n    epochs: 1\n")]);
    expect(problem(result, "shell-variable")).toMatchObject({ line: 5, column: 22, severity: "warning" });
    expect(problem(result, "shell-variable").message).toContain("write `${{ epochs }}`, or `$EPOCHS`");
  });
});

describe("loadWorkflows: YAML", () => {
  it("reports syntax errors at their position and still never throws", () => {
    const result = load("workflows:\n  - name: a\n    provider: bash\n    commands: [x\n");
    expect(hasErrors(result.problems)).toBe(true);
    expect(result.problems.map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:5:1: error: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    const item = load("workflows:\n  - name: a\n    provider: bash\n   commands: [x]\n");
    expect(problem(item, "yaml-syntax")).toMatchObject({ line: 4, column: 1, message: "YAML syntax error: Sequence item without - indicator; line 4 is indented less than line 3 above it: align it with the keys of its mapping" });
  });

  it("reports only the syntax error, not follow-on errors about what the parser recovered, and says what the words mean", () => {
    // One line indented a space too far: YAML reads it into the value of the line above.
    const deeper = load("workflows:\n  - name: train\n    provider: python\n    file: train.py\n     requirements: r.txt\n  - name: x\n    provider: bash\n    commands: [echo]\n");
    expect(deeper.problems.map(formatProblem)).toEqual([
      ".dstack/workflows.yaml:4:11: error: YAML syntax error: Nested mappings are not allowed in compact mappings; line 5 is indented more than line 4, so YAML reads it as part of line 4's value: align it with the keys above it",
    ]);
    // An unclosed `[` swallows the next workflow: no "has no provider" or "name must be a word" for it.
    const unclosed = load("workflows:\n  - name: train\n    provider: python\n    file: train.py\n    requirements: [r.txt\n  - name: x\n    provider: bash\n    commands:\n      - echo hi\n");
    expect(unclosed.problems.every((p) => p.code === "yaml-syntax")).toBe(true);
    expect(unclosed.problems[0]).toMatchObject({ line: 6, column: 3, message: expect.stringContaining("end with a ]") });
    const colon = load("workflows:\n  - name: a: b\n    provider: bash\n");
    expect(colon.problems.map((p) => p.message)).toEqual(["YAML syntax error: Nested mappings are not allowed in compact mappings; a value that holds `: ` must be quoted, e.g. `key: 'a: b'`"]);
    const flow = load(bash("    resources: {gpu: {name: A100, count: ${{ gpus }}}}\n"), { variables: { gpus: "2" } });
    expect(flow.problems.map((p) => [p.code, p.line, p.message])).toEqual([
      ["yaml-syntax", 5, 'YAML syntax error: Unexpected flow-map-start at node end; inside `[...]` or `{...}` the `{` of `${{ }}` starts a mapping: quote the value, e.g. `"${{ name }}"`'],
    ]);
    const bare = load(bash("    env:\n      A=1\n      B: 2\n"));
    expect(bare.problems.map((p) => [p.code, p.line, p.message])).toEqual([
      ["yaml-syntax", 6, "YAML syntax error: Implicit keys need to be on a single line; line 6 (`A=1`) is neither `key: value` nor a `- ` list item, among lines that are: write it as one of them"],
    ]);
  });

  it("reports tabs used for indentation", () => {
    const result = load("workflows:\n\t- name: a\n");
    expect(result.problems[0]).toMatchObject({ code: "yaml-syntax", line: 2, column: 1 });
  });

  it("reports duplicate keys at the second one", () => {
    const result = load(bash("    commands: [y]\n"));
    expect(problem(result, "duplicate-key")).toMatchObject({ line: 5, column: 5 });
    expect(result.workflows[0]?.commands).toEqual(["y"]);
  });

  it("follows anchors and `<<` merge keys", () => {
    const result = load(`workflows:
  - &base
    name: base
    provider: bash
    commands: [echo base]
    resources: {gpu: 1}
  - <<: *base
    name: big
    resources: {gpu: 4}
`);
    expect(result.problems).toEqual([]);
    expect(result.workflows.map((w) => [w.name, w.commands, w.resources.gpu])).toEqual([
      ["base", ["echo base"], { count: 1 }],
      ["big", ["echo base"], { count: 4 }],
    ]);
  });

  it("explains a file without `workflows:`, with top-level typos and misplaced variables", () => {
    expect(load("workflow:\n  - name: a\n").problems.map((p) => p.message)).toEqual([
      "unknown key `workflow` — did you mean `workflows`?",
      "`.dstack/workflows.yaml` has no `workflows:` list",
    ]);
    expect(load("- a\n").problems[0]?.message).toContain("must be a mapping with `workflows:`");
    expect(load("workflows: {a: 1}\n").problems[0]?.message).toContain("must be a list");
    expect(load("workflows:\n  - train\n").problems[0]?.message).toBe("a workflow must be a mapping with `name` and `provider`; got `train`");
    expect(load("# nothing yet\n").problems).toEqual([expect.objectContaining({ severity: "warning", code: "no-workflows" })]);
    // An empty list says so too, at its key, instead of passing in silence.
    for (const text of ["workflows: []\n", "workflows:\n"]) {
      expect(load(text).problems).toEqual([expect.objectContaining({ severity: "warning", code: "no-workflows", line: 1, column: 1, message: expect.stringContaining("`workflows` is empty") })]);
    }
  });

  it("sorts problems by file, line and column, and prints them like a compiler", () => {
    const result = loadWorkflows([
      { path: ".dstack/workflows/b.yaml", text: "workflows:\n  - name: x\n    provider: nope\n" },
      { path: ".dstack/workflows/a.yaml", text: "workflows:\n  - name: y\n    provider: bash\n    bogus: 1\n    commands: [x]\n" },
    ]);
    expect(result.problems.map((p) => `${p.file}:${p.line}`)).toEqual([".dstack/workflows/b.yaml:3", ".dstack/workflows/a.yaml:4"]);
  });
});

describe("loadWorkflows: providers.yaml", () => {
  it("accepts workflows of custom providers, whatever their own fields, and refuses bad definitions", () => {
    const providers: SourceFile = { path: ".dstack/providers.yaml", text: "providers:\n  - name: hello\n    image: python:3.9\n    commands: [python main.py]\n  - image: x\n  - name: hello\n" };
    const result = load(`workflows:\n  - name: a\n    provider: hello\n    anything: goes\n    artifacts: [out]\n`, undefined, [providers]);
    expect(result.workflows[0]).toMatchObject({ provider: "hello", providerSource: { kind: "custom" }, artifacts: [{ path: "out", mount: false }] });
    expect(result.problems.map((p) => [p.file, p.code])).toEqual([
      [".dstack/providers.yaml", "missing-field"],
      [".dstack/providers.yaml", "duplicate-provider"],
    ]);
  });
});

describe("names that would corrupt objects", () => {
  it("refuses `__proto__` as an environment variable or a variable name, located", () => {
    const result = loadWorkflows([
      { path: ".dstack/workflows.yaml", text: "workflows:\n  - name: w\n    provider: bash\n    commands: [env]\n    env:\n      - __proto__=x\n" },
      { path: ".dstack/variables.yaml", text: "variables:\n  global:\n    __proto__: 1\n" },
    ]);
    const codes = result.problems.map((p) => `${p.file}:${p.line}:${p.code}`);
    expect(codes).toContain(".dstack/workflows.yaml:6:invalid-env-name");
    expect(codes).toContain(".dstack/variables.yaml:3:invalid-variable-name");
    expect(Object.getPrototypeOf(result.workflows[0]?.env ?? {})).toBe(Object.prototype);
  });
});

describe("oversized files", () => {
  it("refuses a file over 256 KiB before parsing it, at 1:1, and reads the other files", () => {
    const big = `workflows:\n${"  - name: w\n    provider: bash\n    commands: [echo]\n".repeat(6000)}`;
    const started = Date.now();
    const result = loadWorkflows([
      { path: ".dstack/workflows.yaml", text: big },
      { path: ".dstack/workflows/small.yaml", text: "workflows:\n  - name: ok\n    provider: bash\n    commands: [echo ok]\n" },
    ]);
    expect(Date.now() - started).toBeLessThan(1000);
    const tooLarge = result.problems.filter((p) => p.code === "file-too-large");
    expect(tooLarge).toEqual([expect.objectContaining({ file: ".dstack/workflows.yaml", line: 1, column: 1, severity: "error" })]);
    expect(tooLarge[0]?.message).toContain("at most 256 KiB");
    expect(result.workflows.map((w) => w.name)).toEqual(["ok"]);
  });
});
