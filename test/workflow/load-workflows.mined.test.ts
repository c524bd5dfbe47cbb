import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "@jest/globals";
import { formatProblem, loadWorkflows, parseRunCommand } from "../../src/workflow/index.js";
import type { LoadResult, SourceFile, Workflow } from "../../src/workflow/index.js";
import { byName, errors } from "./corpus.js";

/**
 * More real 2022 `.dstack/*.yaml` files and docs blocks, mined beside the shared corpus
 * (test/fixtures/dstack-workflows-mined/, each file's first line names its source): user repositories
 * the corpus lacks, other revisions of dstack's provider READMEs and docs pages. The valid ones load
 * without errors; the mistakes get their located error; older names load with a warning.
 */

const DIR = fileURLToPath(new URL("../fixtures/dstack-workflows-mined/", import.meta.url));

interface Case {
  /** Path to load the file as (default `.dstack/workflows.yaml`). */
  as?: string;
  /** Companion fixtures and the path each is loaded as. */
  with?: Array<[string, string]>;
  /** Every error: line, column (1-based, in the fixture with its source line), code, words of the message. */
  errors?: Array<[number, number, string, string[]]>;
  /** Codes of every warning, in order. */
  warnings?: string[];
}

const VARIABLES = ".dstack/variables.yaml";
const renamed = "renamed-field";

const CASES: Record<string, Case> = {
  "01-vrv18-code-deep-indent.yaml": {},
  "02-kengz-lean-deps-workflow.yaml": {},
  "03-parmarjigar-python-script-gpu-var.yaml": { with: [["04-parmarjigar-variables-gpu-0.yaml", VARIABLES]], warnings: [renamed, renamed] },
  "04-parmarjigar-variables-gpu-0.yaml": { as: VARIABLES },
  "05-rajeshai-pytorch-app.yaml": { with: [["06-rajeshai-pytorch-variables.yaml", VARIABLES]], warnings: [renamed] },
  "06-rajeshai-pytorch-variables.yaml": { as: VARIABLES },
  "07-rajeshai-pytorch-empty-artifact.yaml": {
    with: [["06-rajeshai-pytorch-variables.yaml", VARIABLES]],
    warnings: [renamed],
    errors: [[8, 9, "invalid-type", ["an artifact must be a single value", "`- model`", "got nothing"]]],
  },
  "08-shamik-image-no-provider.yaml": {
    errors: [[4, 5, "legacy-syntax", ["workflow `hello` has no `provider`", "write `provider: docker` and keep `image` and `commands`"]]],
  },
  "09-darpanaswal-variables.yaml": { as: VARIABLES },
  "10-readme-jupyterlab.yaml": { warnings: ["renamed-provider"] },
  "11-readme-vscode-experimental.yaml": { warnings: ["provider-branch"] },
  "12-readme-jupyter.yaml": { warnings: ["renamed-provider"] },
  "13-readme-notebook-experimental.yaml": { warnings: ["provider-branch"] },
  "14-readme-lab-experimental.yaml": { warnings: ["provider-branch"] },
  "15-readme-code.yaml": {},
  "16-readme-docker-gpu.yaml": {},
  "17-readme-streamlit-target.yaml": {},
  "18-docs-workflows-comments-script.yaml": { with: [["19-docs-workflows-variables.yaml", VARIABLES]], warnings: [renamed, renamed] },
  "19-docs-workflows-variables.yaml": { as: VARIABLES },
  "20-readme-python-script-trailing.yaml": { with: [["21-readme-variables-one-space.yaml", VARIABLES]], warnings: [renamed, renamed] },
  "21-readme-variables-one-space.yaml": { as: VARIABLES },
  "22-readme-indented-top-level.yaml": { warnings: [renamed, renamed] },
  "23-ivan-repo-provider-script.yaml": {},
  "24-ydata-providers-curl.yaml": { as: ".dstack/providers.yaml", warnings: ["shadowed-provider"] },
  "25-docs-ref-bash-deps-tag.yaml": { warnings: [renamed] },
  "26-docs-ref-docker-gpu-quoted.yaml": {},
  "27-docs-ref-notebook-page-lab.yaml": {},
  "28-docs-basics-resources-remote.yaml": { as: ".dstack/workflows/resources.yaml" },
  "29-examples-stability-diffusion-folded.yaml": { as: ".dstack/workflows/stability_diffusion.yaml", warnings: ["folded-command"] },
};

function fixture(name: string, path: string): SourceFile {
  return { path, text: readFileSync(`${DIR}${name}`, "utf8") };
}

function load(name: string): LoadResult {
  const c = CASES[name] ?? {};
  return loadWorkflows([fixture(name, c.as ?? ".dstack/workflows.yaml"), ...(c.with ?? []).map(([file, path]) => fixture(file, path))]);
}

describe("mined 2022 files", () => {
  it("has a case for every fixture, and every fixture names its source", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml")).sort();
    expect(Object.keys(CASES).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(`${DIR}${f}`, "utf8")).toMatch(/^# source: \S+\/\S+ \S+/);
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name} ${c.errors ? "gets its located errors" : "loads without errors"}`, () => {
      const result = load(name);
      const own = c.as ?? ".dstack/workflows.yaml";
      expect(errors(result).map((p) => [p.file, p.line, p.column, p.code])).toEqual((c.errors ?? []).map(([line, column, code]) => [own, line, column, code]));
      for (const [line, column, , says] of c.errors ?? []) {
        const message = errors(result).find((p) => p.line === line && p.column === column)?.message;
        for (const words of says) expect(message).toContain(words);
      }
      expect(result.problems.filter((p) => p.severity === "warning").map((p) => p.code)).toEqual(c.warnings ?? []);
    });
  }
});

describe("what the mined files mean", () => {
  it("reads the May-June 2022 provider names `jupyterlab`, `vscode` and `jupyter` as `lab`, `code` and `notebook`", () => {
    expect(byName(load("10-readme-jupyterlab.yaml"), "notebook")).toMatchObject({ provider: "lab", resources: { cpu: 2, memoryMiB: 32768, gpu: { count: 1 } } });
    const vscode = load("11-readme-vscode-experimental.yaml");
    expect(byName(vscode, "ide").provider).toBe("code");
    expect(vscode.problems[0]?.message).toBe(
      "the branch in `provider: vscode@experimental` is ignored (dstack-app runs its own providers) and provider `vscode` is now called `code`; write `provider: code`",
    );
    expect(load("10-readme-jupyterlab.yaml").problems[0]?.message).toBe("provider `jupyterlab` is now called `lab`; write `provider: lab`");
  });

  it("reads `remote: true` (Dec 2022) as a run that is not local", () => {
    expect(byName(load("28-docs-basics-resources-remote.yaml"), "local-hello").resources.local).toBe(false);
  });

  it("runs a command folded over two lines as the one command YAML makes of it, and says how to split it", () => {
    const result = load("29-examples-stability-diffusion-folded.yaml");
    expect(byName(result, "sd-generate").commands[1]).toBe(
      "pip install -e git+https://github.com/CompVis/taming-transformers.git@master#egg=taming-transformers pip install -e git+https://github.com/openai/CLIP.git@main#egg=clip",
    );
    expect(byName(result, "sd-generate").commands).toHaveLength(4);
    expect(result.problems[0]?.message).toBe(
      "this command goes on over line 26, and YAML joins its lines into one command; if line 26 is another command, start it with `- `; if it is one command, write it on one line",
    );
  });

  it("reads `gpu: ${{ gpu }}` with `gpu: 0` as no GPU, and a top level indented by 3 spaces", () => {
    expect(byName(load("03-parmarjigar-python-script-gpu-var.yaml"), "train-mnist").resources.gpu).toBeUndefined();
    const indented = load("22-readme-indented-top-level.yaml");
    expect(byName(indented, "train-mnist").dependsOn).toEqual([{ kind: "tag", tag: "latest", workflow: "download-mnist" }]);
  });

  it("reads a provider from another repository with its own fields, and `deps: [{workflow}]` chains", () => {
    expect(byName(load("23-ivan-repo-provider-script.yaml"), "hello")).toMatchObject({ provider: "ivan-bokov/dstack-test-providers/pytorch-ddp", ports: 1, resources: { nodes: 3 } });
    expect(byName(load("02-kengz-lean-deps-workflow.yaml"), "tune").dependsOn).toEqual([
      { kind: "workflow", workflow: "setup-conda" },
      { kind: "workflow", workflow: "download" },
    ]);
  });
});

describe("fields the 2022 provider docs list", () => {
  const one = (text: string): Workflow => {
    const result = loadWorkflows([{ path: ".dstack/workflows.yaml", text }]);
    expect(result.problems.map(formatProblem)).toEqual([]);
    return result.workflows[0] as Workflow;
  };

  it("reads `version` of apps and dev environments as the app's version and `python` as Python's, together", () => {
    expect(one("workflows:\n  - name: ide\n    provider: code\n    version: 1.67.2\n    python: 3.9\n")).toMatchObject({ appVersion: "1.67.2", version: "3.9" });
    expect(one("workflows:\n  - name: app\n    provider: streamlit\n    target: app.py\n    version: 1.10.0\n")).toMatchObject({ appVersion: "1.10.0" });
    expect(one("workflows:\n  - name: lab\n    provider: lab\n    python: '3.8'\n").version).toBe("3.8");
  });

  it("runs docker's `before_run` before its commands", () => {
    expect(one("workflows:\n  - name: d\n    provider: docker\n    image: ubuntu\n    before_run: [apt-get update]\n    commands: [ls]\n")).toMatchObject({ setup: ["apt-get update"], commands: ["ls"] });
  });

  it("reads `remote: false` as local", () => {
    expect(one("workflows:\n  - name: h\n    provider: bash\n    commands: [ls]\n    resources:\n      remote: false\n").resources.local).toBe(true);
  });
});

describe("ad-hoc runs with the 2022 provider names", () => {
  it("runs `jupyterlab` and `vscode@experimental` as `lab` and `code`", () => {
    const lab = parseRunCommand(["jupyterlab", "--gpu", "1"], []);
    expect(lab).toMatchObject({ kind: "ad-hoc", workflow: { provider: "lab", resources: { gpu: { count: 1 } } } });
    expect(parseRunCommand(["vscode@experimental"], [])).toMatchObject({ kind: "ad-hoc", workflow: { provider: "code" } });
  });
});
