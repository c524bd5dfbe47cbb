import { isMap, isSeq } from "yaml";
import { checkDependencyGraph } from "./check-dependency-graph.js";
import type { GraphNode } from "./check-dependency-graph.js";
import { didYouMean } from "./did-you-mean.js";
import { BUILTIN_PROVIDERS } from "./provider-registry.js";
import { readProvidersFile } from "./providers-file.js";
import type { CustomProvider } from "./providers-file.js";
import { readWorkflow } from "./read-workflow.js";
import type { LoadOptions, LoadResult, Problem, SourceFile, Workflow } from "./types.js";
import { variableEnvName } from "./variable-env-name.js";
import { readVariablesFile } from "./variables-file.js";
import type { VariableSection } from "./variables-file.js";
import { describeNode, YamlFile } from "./yaml-file.js";
import type { YamlParseMode } from "./yaml-file.js";

/** Which `.dstack/` file a path is: `variables.yaml`, `providers.yaml`, or a workflows file. */
export type SourceFileKind = "workflows" | "variables" | "providers";

export function sourceFileKind(path: string): SourceFileKind {
  if (/(^|\/)workflows\//.test(path)) return "workflows";
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (/^variables\.ya?ml$/.test(base)) return "variables";
  if (/^providers\.ya?ml$/.test(base)) return "providers";
  return "workflows";
}

/**
 * Loads `.dstack/workflows.yaml`, `.dstack/workflows/*.yaml`, `.dstack/variables.yaml` and
 * `.dstack/providers.yaml` (whichever the caller read; the kind comes from the path).
 *
 * Never throws on user input: every problem of every file comes back located, errors and warnings,
 * sorted by file (in `files` order), line and column. When any problem is an error the load failed
 * and nothing should run; `workflows` still holds every workflow that has a name and a provider, for
 * listings and editors.
 *
 * Variables: a workflow sees `global`, then its own section of variables.yaml, then
 * `options.variables` (command-line overrides, which also define names the file lacks). Each is
 * substituted as `${{ name }}` in any value, and passed in `env` upper-cased (`batch-size` ->
 * `BATCH_SIZE`; explicit `env`/`environment` entries win). `${{ run.name }}` and `${{ run.args }}`
 * take `options.run`; without it they are kept as written (validation without a run).
 *
 * `parseMode` is internal (default `auto`): the differential tests pass `full` to check that the fast
 * YAML front end changes no result.
 */
export function loadWorkflows(files: SourceFile[], options: LoadOptions = {}, parseMode: YamlParseMode = "auto"): LoadResult {
  const problems: Problem[] = [];
  const parsed = files.map((file) => {
    const read = refuseOversized(file, problems);
    // A refused file is not read at all: no "defines no workflows" after "too large".
    return { kind: sourceFileKind(file.path), yaml: new YamlFile(read, problems, parseMode), refused: read !== file };
  });

  const providers = collectProviders(parsed.filter((p) => p.kind === "providers").flatMap((p) => readProvidersFile(p.yaml)));
  const sections = collectSections(parsed.filter((p) => p.kind === "variables").flatMap((p) => readVariablesFile(p.yaml)));
  const overrides = options.variables ?? {};
  const fromCommandLine: ReadonlySet<string> = new Set(Object.keys(overrides));
  // Workflows without a section of their own see the same variables: merged, and named for env, once.
  let shared: { variables: Record<string, string>; variableEnv: Record<string, string> } | undefined;
  const visibleFor = (workflow: string) => {
    const own = sections.get(workflow);
    if (own === undefined && shared !== undefined) return shared;
    const variables = Object.assign({}, sections.get("global")?.values, own?.values, overrides);
    const visible = { variables, variableEnv: variableEnv(variables) };
    if (own === undefined) shared = visible;
    return visible;
  };
  const scopeFor = (workflow: string) => {
    const { variables, variableEnv } = visibleFor(workflow);
    return { variables, variableEnv, defineHint: `\`.dstack/variables.yaml\` under \`${workflow || "WORKFLOW"}:\` or \`global:\``, fromCommandLine };
  };

  const nodes: GraphNode[] = [];
  const workflows: Workflow[] = [];
  const firstByName = new Map<string, { file: string; line: number }>();
  const context = { customProviders: new Set(providers.keys()), scopeFor, run: options.run };
  for (const { kind, yaml, refused } of parsed) {
    if (kind !== "workflows" || refused) continue;
    for (const item of workflowItems(yaml)) {
      const result = readWorkflow(item, yaml, context);
      if (result.name === undefined) continue;
      const first = firstByName.get(result.name);
      if (first !== undefined) {
        yaml.report.error(result.nameNode ?? item, "duplicate-workflow", `workflow \`${result.name}\` is defined twice (first at ${first.file}:${first.line}); rename one`);
        continue;
      }
      const at = yaml.report.position(yaml.report.range(result.nameNode ?? item)[0]);
      firstByName.set(result.name, { file: yaml.report.path, line: at.line });
      nodes.push({ name: result.name, dependencies: result.dependencies, report: yaml.report });
      if (result.workflow !== undefined) workflows.push(result.workflow);
    }
  }
  checkDependencyGraph(nodes);
  if (parsed.some((p) => p.kind === "workflows")) checkSectionNames(sections, [...firstByName.keys()]);

  const kept = withoutFollowOns(problems, parsed.map((p) => p.yaml));
  const order = new Map(files.map((f, i) => [f.path, i]));
  kept.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  return { workflows, problems: kept };
}

/**
 * A file with YAML syntax errors: its syntax errors, and of the rest only the hints that explain
 * one (`text-read-as-mapping` on the same line, such as the `{` of an unquoted `${{ }}` inside
 * `[...]`). The others come from what the parser recovered and would send the author after keys
 * they never wrote.
 */
function withoutFollowOns(problems: Problem[], files: YamlFile[]): Problem[] {
  const broken = new Map(files.filter((f) => f.syntaxErrorLines.size > 0).map((f) => [f.report.path, f.syntaxErrorLines]));
  if (broken.size === 0) return problems;
  return problems.filter((p) => {
    const lines = broken.get(p.file);
    return lines === undefined || p.code === "yaml-syntax" || (p.code === "text-read-as-mapping" && lines.has(p.line));
  });
}

function workflowItems(yaml: YamlFile) {
  const root = yaml.root;
  if (root === null) {
    if (yaml.syntaxErrorLines.size > 0) return [];
    yaml.report.warning(0, "no-workflows", `\`${yaml.report.path}\` defines no workflows; write \`workflows:\` with a list of them`);
    return [];
  }
  if (!isMap(root)) {
    yaml.report.error(root, "invalid-type", `\`${yaml.report.path}\` must be a mapping with \`workflows:\`, e.g. \`workflows: [{name: hello, provider: bash, commands: [echo hi]}]\`; got ${describeNode(root)}`);
    return [];
  }
  const items = [];
  let found = false;
  for (const top of yaml.entries(root)) {
    if (top.key !== "workflows") {
      const hint = top.key === "variables" ? "; variables go in `.dstack/variables.yaml`" : didYouMean(top.key, ["workflows"]) || "; this file holds `workflows:` only";
      yaml.report.error(top.keyNode, "unknown-field", `unknown key \`${top.key}\`${hint}`);
      continue;
    }
    found = true;
    // `workflows:` or `workflows: []`: valid, but a file that runs nothing is worth a word.
    if (top.value === null || (isSeq(top.value) && top.value.items.length === 0)) {
      yaml.report.warning(top.keyNode, "no-workflows", `\`workflows\` is empty: \`${yaml.report.path}\` defines no workflows`);
      continue;
    }
    if (!isSeq(top.value)) {
      yaml.report.error(top.keyNode, "invalid-type", `\`workflows\` must be a list (\`- name: ...\` items); got ${describeNode(top.value)}`);
      continue;
    }
    for (const item of yaml.items(top.value)) {
      if (isMap(item)) items.push(item);
      else yaml.report.error(item ?? top.keyNode, "invalid-type", `a workflow must be a mapping with \`name\` and \`provider\`; got ${describeNode(item)}`);
    }
  }
  if (!found) yaml.report.error(root, "missing-workflows", `\`${yaml.report.path}\` has no \`workflows:\` list`);
  return items;
}

function variableEnv(variables: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) env[variableEnvName(name)] = value;
  return env;
}

function collectProviders(list: CustomProvider[]): Map<string, CustomProvider> {
  const providers = new Map<string, CustomProvider>();
  for (const provider of list) {
    const report = provider.yaml.report;
    if (BUILTIN_PROVIDERS.has(provider.name)) {
      report.warning(provider.where, "shadowed-provider", `\`${provider.name}\` is a built-in provider; workflows with \`provider: ${provider.name}\` run the built-in one and this definition is ignored`);
      continue;
    }
    if (providers.has(provider.name)) {
      report.error(provider.where, "duplicate-provider", `provider \`${provider.name}\` is defined twice; rename one`);
      continue;
    }
    providers.set(provider.name, provider);
  }
  return providers;
}

function collectSections(list: VariableSection[]): Map<string, VariableSection> {
  const sections = new Map<string, VariableSection>();
  for (const section of list) {
    const earlier = sections.get(section.name);
    if (earlier === undefined) {
      sections.set(section.name, { ...section, values: { ...section.values } });
      continue;
    }
    section.yaml.report.error(section.keyNode, "duplicate-key", `variables of \`${section.name}\` are given twice; merge them into one section`);
  }
  return sections;
}

function checkSectionNames(sections: Map<string, VariableSection>, workflows: string[]): void {
  const known = new Set(workflows);
  for (const section of sections.values()) {
    if (section.name === "global" || known.has(section.name)) continue;
    const hint = didYouMean(section.name, [...workflows, "global"]);
    section.yaml.report.warning(section.keyNode, "unknown-variables-section", `variables for \`${section.name}\`, which is not a workflow${hint || "; no workflow sees them (sections are `global` or a workflow's name)"}`);
  }
}

/** Largest `.dstack/` file read; a bigger one is refused before parsing (a parser's time and memory grow with it). */
/** The largest `.dstack/` file read (refused before parsing, and not even fetched from GitHub). */
export const MAX_FILE_BYTES = 256 * 1024;

function refuseOversized(file: SourceFile, problems: Problem[]): SourceFile {
  const bytes = file.sizeBytes ?? Buffer.byteLength(file.text);
  if (bytes <= MAX_FILE_BYTES) return file;
  problems.push({
    file: file.path,
    line: 1,
    column: 1,
    severity: "error",
    code: "file-too-large",
    message: `this file is ${Math.ceil(bytes / 1024)} KiB; files of .dstack/ may be at most ${MAX_FILE_BYTES / 1024} KiB: split it into .dstack/workflows/*.yaml`,
  });
  return { ...file, text: "" };
}
