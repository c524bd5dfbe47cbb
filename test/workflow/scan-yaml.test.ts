import { describe, expect, it } from "@jest/globals";
import { isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";
import { loadWorkflows } from "../../src/workflow/index.js";
import type { SourceFile } from "../../src/workflow/index.js";
import { scanYaml } from "../../src/workflow/scan-yaml.js";
import { YamlFile } from "../../src/workflow/yaml-file.js";
import { corpusFiles, corpusText } from "./corpus.js";
import { generateWorkflows } from "./generate-workflows.js";
import { garbage, mutate, random, YAML_PIECES } from "./yaml-mutator.js";

/**
 * The one-pass scanner (`scanYaml`) against the `yaml` package: whenever it returns a tree, that is
 * the tree `parseDocument` builds (every scalar's value, source text and style, every node's range,
 * flow or block), and `parseDocument` finds no error, warning or duplicate key in the text; anything
 * else it leaves (undefined), and the full parsers read it.
 */

/** What the readers see of a node, and all of it that `parseDocument` decides: kind, value, style, range. */
function shape(node: unknown): unknown {
  if (isScalar(node)) return { value: node.value, source: node.source, type: node.type, range: node.range };
  if (isMap(node)) return { map: node.items.map((pair) => [shape(pair.key), shape(pair.value)]), flow: node.flow === true, range: node.range };
  if (isSeq(node)) return { seq: node.items.map(shape), flow: node.flow === true, range: node.range };
  if (isPair(node)) throw new Error("a pair outside a mapping");
  return { other: String(node) };
}

/** Keys of one mapping the core schema reads as equal (which the scanner must leave to the full path). */
function hasDuplicateKey(node: unknown): boolean {
  if (isMap(node)) {
    const keys = node.items.flatMap((pair) => (isScalar(pair.key) && pair.key.value !== null ? [String(pair.key.value)] : []));
    if (new Set(keys).size !== keys.length) return true;
    return node.items.some((pair) => hasDuplicateKey(pair.value));
  }
  return isSeq(node) && node.items.some(hasDuplicateKey);
}

/** Scans `text`; when the scanner takes it, checks the tree against parseDocument's. True when taken. */
function expectSameTree(text: string): boolean {
  const scanned = scanYaml(text);
  if (scanned === undefined) return false;
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  const full = { text, errors: doc.errors.map((e) => e.message), warnings: doc.warnings.map((w) => w.message), duplicateKey: hasDuplicateKey(doc.contents), tree: shape(doc.contents) };
  expect({ text, errors: [], warnings: [], duplicateKey: false, tree: shape(scanned) }).toEqual(full);
  return true;
}

function frontEnd(text: string): YamlFile["frontEnd"] {
  return new YamlFile({ path: ".dstack/workflows.yaml", text }, []).frontEnd;
}

describe("the YAML scanner", () => {
  it("builds parseDocument's tree for every corpus file, and reads all but the one with a duplicate key", () => {
    const left = corpusFiles().filter((name) => !expectSameTree(corpusText(name)));
    expect(left).toEqual(["71-eafpres-duplicate-artifacts-key.yaml"]);
  });

  it("builds parseDocument's tree for the benchmark's 200-workflow files", () => {
    for (const file of generateWorkflows(200)) expect(expectSameTree(file.text)).toBe(true);
  });

  it("builds parseDocument's tree for every mutated corpus file it reads", () => {
    const next = random(20261201);
    const texts = corpusFiles().map(corpusText);
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      if (expectSameTree(mutate(texts[i % texts.length] as string, next, YAML_PIECES))) taken++;
    }
    // Most mutations break the YAML or leave the subset; many stay inside it.
    expect(taken).toBeGreaterThan(800);
  }, 120_000);

  it("builds parseDocument's tree for every mutated generated file it reads", () => {
    const next = random(7);
    const [variables, workflows] = generateWorkflows(12).map((f) => f.text) as [string, string];
    let taken = 0;
    for (let i = 0; i < 1000; i++) {
      if (expectSameTree(mutate(i % 5 === 0 ? variables : workflows, next, YAML_PIECES))) taken++;
    }
    expect(taken).toBeGreaterThan(200);
  }, 120_000);

  it("builds parseDocument's tree for random YAML-ish text it reads", () => {
    const next = random(11);
    let taken = 0;
    for (let i = 0; i < 6000; i++) if (expectSameTree(garbage(next, YAML_PIECES))) taken++;
    expect(taken).toBeGreaterThan(0);
  }, 120_000);

  it("reads the subset: block and flow collections, plain, quoted and block scalars, comments", () => {
    const inside = [
      "a: 1\nb:\n",
      "a : b \nc:\n- x\n- y\nd:\ne: 2\n",
      "- - a\n  - b\n- name: a\n  p: 2 # c\n\n# end\n",
      "# top\n\na:   x   \n",
      "a: [x , y ]  # c\nb: {k: v , k2: \"q\" }\n",
      "a: [ {k: v} , \"x\" , [y] ]\n",
      "a: [\"x\", 'y', {k: v}, [z], '', \"\"]\n",
      "a: \"\\t\\u00e9\\x41\\/\\ \\\"\\\\\"\nb: 'it''s'\n",
      "a: |\n  x  \n  y\n\n\nb: 1\n",
      "a: >-\n  x\n\n\n  y\n  z\nb: 1\n",
      "a: |-\n  x\n\n# c\nb: 1",
      "a:\n  b: |\n    x\n  # hi\n  c: 1\n",
      "- # c\n  a: 1\n",
      "a: # c\n  - x\n",
      "a:\n  # c\n  - x\n",
      "a:\n  - x\n  # c\n  - y\n",
      "- \"k\": v\n  'k2': w\n",
      "a: [1.0, 0x1F, 0o7, 010, .inf, -.Inf, .nan, ~, true, False, NULL, 1e5, +1, -0, 1_0, 12345678901234567890]\n",
      "1: a\ntrue: b\n~: c\n",
      "url: https://example.com/a#b\ndeps: [':tag', a:b, -x]\nk: -1\n",
      "a: x\n",
      "a: x",
      "a: 😀 é ü\n",
      `${"k".repeat(1024)}: v\n"${"k".repeat(1020)}"  : v\n`,
      "- help: \"x  \n     y \n\n   \n     z\"\n  b: 'it''s\n      #not a comment'  # c\n",
      "a: \"x\\ \n  y\"\n",
      "- \"x\n y\"\n- 'a\n\n b'\n",
    ];
    for (const text of inside) expect({ text, taken: expectSameTree(text) }).toEqual({ text, taken: true });
  });

  it("leaves everything outside the subset, which YamlFile then reads with js-yaml or parseDocument to the same result", () => {
    const outside = [
      "workflows:\n  - &base\n    name: a\n    provider: bash\n  - <<: *base\n    name: b\n",
      "workflows:\n  - name: !!str a\n",
      "---\nworkflows: []\n",
      "%YAML 1.2\n---\nworkflows: []\n",
      "workflows: []\n...\n",
      "workflows: []\n---\nworkflows: []\n",
      "? workflows\n: []\n",
      "[a]: b\n",
      "workflows:\n  - name: a\n    help: x\n      y\n",
      "workflows:\n  - name: a\n    help: \"x\n    y\"\n",
      "a: {k: \"x\n  y\"}\n",
      "\"a\n  b\": c\n",
      "workflows:\n  - name: a\n    commands: [a,\n      b]\n",
      "workflows:\n\t- name: a\n",
      "workflows:\r\n  - name: a\r\n",
      "\ufeffworkflows: []\n",
      "workflows:\n  - name: a\n    name: b\n",
      "a:\n  1: x\n  1.0: y\n",
      "a: {k: 1, k: 2}\n",
      "a: |+\n  x\n\n",
      "a: |2\n   x\n",
      "a: >\n  x\n    y\n",
      "a: |\n\n  x\n",
      "a:\n  b: 1\n    # deeper\n  c: 2\n",
      "a:\n  - x\n  # trailing\nb: 1\n",
      "a: # c\nb: 1\n",
      "a:\n  # c\nb: 1\n",
      "a: {k: }\n",
      "a: {k}\n",
      "a: [b: c]\n",
      "a: [x, ]\n",
      "a: \"x\"y\n",
      "a: [x]#c\n",
      "a: b: c\n",
      "a: - b\n",
      "just a scalar\n",
      "# only a comment\n",
      "",
      "  a: 1\n",
      "a: \"\\q\"\n",
      "a: \ud83d\n",
      `a: ${"[".repeat(100)}${"]".repeat(100)}\n`,
      `${"k".repeat(1025)}: v\n`,
      `- "${"k".repeat(1023)}" : v\n`,
    ];
    for (const text of outside) {
      expect({ text, scanned: scanYaml(text) }).toEqual({ text, scanned: undefined });
      expect(frontEnd(text)).not.toBe("scanner");
      const files: SourceFile[] = [{ path: ".dstack/workflows.yaml", text }];
      expect(loadWorkflows(files)).toEqual(loadWorkflows(files, {}, "full"));
    }
  });

  it("is YamlFile's front end for files in the subset", () => {
    expect(frontEnd("workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n")).toBe("scanner");
    expect(frontEnd("workflows:\n  - &a\n    name: a\n    provider: bash\n")).toBe("js-yaml");
    expect(frontEnd("workflows:\n  - name: a\n    provider: [bash\n")).toBe("parseDocument");
    expect(new YamlFile({ path: ".dstack/workflows.yaml", text: "workflows: []\n" }, [], "full").frontEnd).toBe("parseDocument");
  });
});
