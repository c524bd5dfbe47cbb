import { describe, expect, it } from "@jest/globals";
import { loadWorkflows } from "../../src/workflow/index.js";
import type { LoadOptions, SourceFile } from "../../src/workflow/index.js";
import { YamlFile } from "../../src/workflow/yaml-file.js";
import { corpusFile, corpusFiles, corpusText } from "./corpus.js";
import { generateWorkflows } from "./generate-workflows.js";
import { garbage, mutate, random, YAML_PIECES } from "./yaml-mutator.js";

/**
 * The fast YAML front end (js-yaml, `parseYamlFast`) must change no result: for every file,
 * `loadWorkflows` gives the same workflows, problems (with their positions) and warnings as with
 * `parseDocument` alone (`parseMode: "full"`).
 */
function expectSameAsFullParse(files: SourceFile[], options: LoadOptions = {}): void {
  const fast = loadWorkflows(files, options);
  const full = loadWorkflows(files, options, "full");
  expect(fast).toEqual(full);
}

function parsedBy(text: string, path = ".dstack/workflows.yaml"): YamlFile["parsedBy"] {
  return new YamlFile({ path, text }, []).parsedBy;
}

const WITH_VARIABLES: LoadOptions = { variables: { x: "1" }, run: { name: "run-1", args: ["--lr", "0.1"] } };

describe("the fast YAML front end", () => {
  it("gives the same result as parseDocument for every corpus file", () => {
    for (const name of corpusFiles()) {
      expectSameAsFullParse([corpusFile(name)]);
      expectSameAsFullParse([corpusFile(name)], WITH_VARIABLES);
    }
  });

  it("reads every corpus file but the one with a duplicate key", () => {
    const full = corpusFiles().filter((name) => parsedBy(corpusText(name)) === "full");
    expect(full).toEqual(["71-eafpres-duplicate-artifacts-key.yaml"]);
  });

  it("gives the same result as parseDocument for the benchmark's 200-workflow file, and reads it", () => {
    const files = generateWorkflows(200);
    expectSameAsFullParse(files);
    expect(files.map((f) => parsedBy(f.text, f.path))).toEqual(["fast", "fast"]);
  });

  it("gives the same result as parseDocument for mutated corpus files", () => {
    const next = random(20261130);
    const texts = corpusFiles().map(corpusText);
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const text = mutate(texts[i % texts.length] as string, next, YAML_PIECES);
      const files: SourceFile[] = [{ path: ".dstack/workflows.yaml", text }];
      expectSameAsFullParse(files, i % 2 === 0 ? {} : WITH_VARIABLES);
      if (parsedBy(text) === "fast") fast++;
    }
    // Most mutations break the YAML (parseDocument reads those), but many stay valid and take the fast path.
    expect(fast).toBeGreaterThan(750);
  }, 300_000);

  it("gives the same result as parseDocument for random YAML-ish text", () => {
    const next = random(4);
    for (let i = 0; i < 2000; i++) {
      const files: SourceFile[] = [
        { path: ".dstack/workflows.yaml", text: garbage(next, YAML_PIECES) },
        { path: ".dstack/variables.yaml", text: garbage(next, YAML_PIECES) },
        { path: ".dstack/providers.yaml", text: garbage(next, YAML_PIECES) },
      ];
      expectSameAsFullParse(files, WITH_VARIABLES);
    }
  }, 300_000);

  it("gives the same result as parseDocument for the YAML corners it reads or leaves", () => {
    const corners = [
      "workflows:\n  - &base\n    name: a\n    provider: bash\n    commands: [echo a]\n  - <<: *base\n    name: b\n",
      "workflows:\n  - name: a\n    provider: bash\n    commands: &c\n      - echo $x\n  - name: b\n    provider: bash\n    commands: *c\n",
      "workflows:\n  - name: a\n    provider: python\n    file: a.py\n    version: 3.10\n    args: [1.0, 0x1F, 0o7, 010, .inf, ~, true]\n",
      "workflows:\n  - name: a\n    provider: bash\n    commands: |\n      echo a\n      echo b\n\n    help: >-\n      folded\n      text\n",
      "workflows:\n  - name: a\n    provider: bash\n    help: \"multi\n      line\"\n    commands:\n      -\n      - echo 'a: b'\n      - echo a: b\n",
      "workflows:\n  - name: a\n    provider: bash\n    commands:\n      - echo\n      # trailing comment\n  # between\n  - name: b\n    provider: bash\n    commands:\n    # comment after an empty value\n",
      "workflows:\n  - name: a\n    provider: bash\n    1: x\n    1.0: y\n",
      "workflows:\n  - name: a\n    provider: bash\n    <<: {help: x}\n    <<: {help: y}\n",
      "workflows:\n  - name: a\n    provider: !!str bash\n",
      "workflows:\n  - {name: a, provider: bash, commands: [echo]}\n  - [a, b]\n  - x\n",
      "workflows:\n  - name: a\n    provider: bash\n    env: {A: 1, B: 'x', C: \"y\", D:}\n",
      "---\nworkflows: []\n",
      "workflows:\r\n  - name: a\r\n    provider: bash\r\n",
      "workflows:\n\t- name: a\n",
      "# only a comment\n",
      "",
      "workflows:\n  - name: a\n    provider: bash\n# end\n",
      "workflows:\n  - name: a\n    provider: bash\n    commands: [\"a\"]x\n",
      "workflows:\n  - name: a\n    provider: bash\n    help: \"a \n      b\"\n",
    ];
    for (const text of corners) expectSameAsFullParse([{ path: ".dstack/workflows.yaml", text }], WITH_VARIABLES);
  });

  it("is taken for plain valid files and left for files with problems", () => {
    expect(parsedBy("workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n")).toBe("fast");
    expect(parsedBy("variables:\n  global:\n    lr: 0.1\n", ".dstack/variables.yaml")).toBe("fast");
    // A syntax error, a duplicate key (js-yaml stops at both) and a tag (not rebuilt): parseDocument reports or reads them.
    expect(parsedBy("workflows:\n  - name: a\n    provider: [bash\n")).toBe("full");
    expect(parsedBy("workflows:\n  - name: a\n    name: b\n")).toBe("full");
    expect(parsedBy("workflows:\n  - name: !!str a\n")).toBe("full");
  });

  it("is not taken when asked for the full parser", () => {
    expect(new YamlFile({ path: ".dstack/workflows.yaml", text: "workflows: []\n" }, [], "full").parsedBy).toBe("full");
  });
});
