import { beforeAll, describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Ajv } from "ajv";
import type { ValidateFunction } from "ajv";
import { parse } from "yaml";
import { COMMON_FIELDS } from "../../src/workflow/fields/common-fields.js";
import { misplacedResources } from "../../src/workflow/fields/shared-fields.js";
import { BUILTIN_PROVIDERS } from "../../src/workflow/provider-registry.js";
import { loadWorkflows, sourceFileKind } from "../../src/workflow/index.js";
import type { Problem, SourceFile } from "../../src/workflow/index.js";
import { CORPUS_DIR } from "../workflow/corpus.js";
import { corpusRepos } from "./corpus-folders.js";

/**
 * schema/workflows.schema.json (for editors: VS Code's YAML extension, `# yaml-language-server: $schema=...`)
 * against the model: every corpus file the model loads without errors validates; broken files do not;
 * each built-in provider's fields in the schema are the model's.
 */

interface ProviderRule {
  if: { properties: { provider: { pattern: string } } };
  then: { properties: Record<string, unknown> };
}

interface WorkflowsSchema {
  $schema: string;
  definitions: {
    workflow: { properties: Record<string, unknown>; allOf: ProviderRule[] };
    provider: { anyOf: Array<{ enum?: string[] }> };
  };
}

const SCHEMA_PATH = new URL("../../schema/workflows.schema.json", import.meta.url);
let schema: WorkflowsSchema;
let validate: ValidateFunction;
const ajvWarnings: unknown[] = [];

beforeAll(async () => {
  schema = JSON.parse(await readFile(SCHEMA_PATH, "utf8")) as WorkflowsSchema;
  // ajv's default strict mode: an unknown keyword throws, one that cannot apply is a warning (collected, and a failure).
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, logger: { log: () => undefined, warn: (...args: unknown[]) => void ajvWarnings.push(args), error: (...args: unknown[]) => void ajvWarnings.push(args) } });
  validate = ajv.compile(schema);
});

function schemaAccepts(text: string): boolean {
  return validate(parse(text, { uniqueKeys: false })) === true;
}

function errorsOf(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.severity === "error");
}

describe("schema/workflows.schema.json", () => {
  it("is a draft-07 schema that strict ajv compiles without a warning", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(ajvWarnings).toEqual([]);
  });

  it("accepts every corpus workflows file the model loads without errors (variables aside, which come from the command line)", async () => {
    const checked: string[] = [];
    for (const repo of await corpusRepos(CORPUS_DIR)) {
      const files: SourceFile[] = await Promise.all(repo.files.map(async (f) => ({ path: f.path, text: await readFile(path.join(CORPUS_DIR, f.corpusFile), "utf8") })));
      const own = files[0] as SourceFile;
      if (sourceFileKind(own.path) !== "workflows") continue;
      // A schema cannot know which variables a run will give: those errors aside, the model must be clean.
      const errors = errorsOf(loadWorkflows(files).problems).filter((p) => p.code !== "unknown-variable");
      if (errors.length > 0) continue;
      expect({ file: repo.name, valid: schemaAccepts(own.text), errors: validate.errors ?? null }).toEqual({ file: repo.name, valid: true, errors: null });
      checked.push(repo.name);
    }
    // 84 files: 14 are variables/providers files, 14 have errors the model reports (older dialects, user errors).
    expect(checked).toHaveLength(56);
  });

  const BROKEN: Array<[string, string]> = [
    ["an unknown field (the `artifiacts` typo of corpus 29)", "workflows:\n  - name: a\n    provider: python\n    file: a.py\n    artifiacts: [out]\n"],
    ["an unknown bash field", "workflows:\n  - name: a\n    provider: bash\n    comands: [echo a]\n"],
    ["a field of another provider", "workflows:\n  - name: a\n    provider: curl\n    url: https://example.com/a\n    output: a\n    commands: [echo a]\n"],
    ["an unknown resource", "workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n    resources: {gpus: 1}\n"],
    ["a missing required field", "workflows:\n  - name: a\n    provider: docker\n    commands: [echo a]\n"],
    ["no provider (the 2021 form)", "workflows:\n  - name: a\n    image: ubuntu\n    commands: [echo a]\n"],
    ["`provider: python==3.8`", "workflows:\n  - name: a\n    provider: python==3.8\n    file: a.py\n"],
    ["a Python version as a mapping (corpus 23)", 'workflows:\n  - name: a\n    provider: python\n    file: a.py\n    python: {type: "string", default: 3.9}\n'],
    ["`depends-on` as a mapping (2021)", "workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n    depends-on: {workflows: [b]}\n"],
    ["an artifact outside the working directory", "workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n    artifacts: [../x]\n"],
    ["both `file` and `script`", "workflows:\n  - name: a\n    provider: python\n    file: a.py\n    script: b.py\n"],
    ["`variables:` in workflows.yaml", "variables: {}\nworkflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n"],
    ["an unknown trigger", "workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n    on: pull_request\n"],
  ];

  for (const [what, text] of BROKEN) {
    it(`rejects ${what}, as the model does`, () => {
      expect(schemaAccepts(text)).toBe(false);
      expect(errorsOf(loadWorkflows([{ path: ".dstack/workflows.yaml", text }]).problems)).not.toEqual([]);
    });
  }

  it("accepts the other forms dstack accepted in 2022: older names, `deps` objects, `env` lists, one-string `commands`, `NAME/gpu`", () => {
    const text = [
      "workflows:",
      "  - name: prepare",
      "    provider: python",
      "    python_script: prepare.py",
      "    python: 3.10",
      "    environment: {PYTHONPATH: src, DEBUG: true}",
      "    resources: {v100/gpu: 2, shm_size: 8GB}",
      "    on:",
      "      push: {branches: [main]}",
      "      tag:",
      "  - name: train",
      "    provider: bash",
      "    deps: [{workflow: prepare}, {tag: v1, mount: true}, ':data', dstackai/dstack/hello:latest]",
      "    env: [A=1, B]",
      "    commands: |",
      "      pip install -r requirements.txt",
      "      python train.py",
      "    artifacts: [{path: ./model, mount: true}, /root/.cache/huggingface]",
      "    gpu: 1",
      "    resources: {memory: 16GB, gpu: {name: K80, count: 1, memory: 12GB}, interruptible: yes}",
      "",
    ].join("\n");
    expect(errorsOf(loadWorkflows([{ path: ".dstack/workflows.yaml", text }]).problems)).toEqual([]);
    expect({ valid: schemaAccepts(text), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  });

  it("lists, for each built-in provider, exactly the fields the model reads for it", () => {
    const rules = schema.definitions.workflow.allOf;
    for (const [id, provider] of BUILTIN_PROVIDERS) {
      const rule = rules.filter((r) => new RegExp(r.if.properties.provider.pattern, "u").test(id));
      expect({ id, rules: rule.length }).toEqual({ id, rules: 1 });
      const expected = ["name", "provider", ...Object.keys(COMMON_FIELDS), ...Object.keys(provider.fields), ...Object.keys(misplacedResources)].sort();
      expect({ id, fields: Object.keys((rule[0] as ProviderRule).then.properties).sort() }).toEqual({ id, fields: [...new Set(expected)] });
      for (const field of expected) expect({ id, field, described: field in schema.definitions.workflow.properties }).toEqual({ id, field, described: true });
    }
    expect(schema.definitions.provider.anyOf[0]?.enum).toEqual([...BUILTIN_PROVIDERS.keys()]);
  });

  it("requires a provider's fields exactly where the model does", () => {
    for (const id of BUILTIN_PROVIDERS.keys()) {
      const text = `workflows:\n  - name: a\n    provider: ${id}\n`;
      const modelErrors = errorsOf(loadWorkflows([{ path: ".dstack/workflows.yaml", text }]).problems).map((p) => p.code);
      expect({ id, schemaAccepts: schemaAccepts(text) }).toEqual({ id, schemaAccepts: modelErrors.length === 0 });
    }
  });
});
