import { blankWorkflow } from "./blank-workflow.js";
import { isMap, isScalar } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { closestMatch } from "./did-you-mean.js";
import { COMMON_FIELDS } from "./fields/common-fields.js";
import type { FieldContext, FieldSpec } from "./fields/field-context.js";
import type { LocatedDependency } from "./fields/field-context.js";
import { misplacedResources } from "./fields/shared-fields.js";
import { LEGACY_KEYS, reportLegacyDependsOn, reportLegacyKey, reportMissingProvider, reportShellVariables } from "./legacy-dialect.js";
import { BUILTIN_PROVIDERS } from "./provider-registry.js";
import { resolveProvider } from "./resolve-provider.js";
import type { ResolvedProvider } from "./resolve-provider.js";
import { substituteVariables } from "./substitute-variables.js";
import type { SubstitutionScope } from "./substitute-variables.js";
import type { LoadOptions, Workflow } from "./types.js";
import { describeNode, scalarSource } from "./yaml-file.js";
import type { Entry, YamlFile } from "./yaml-file.js";

/** What reading a workflow needs from the other files. */
export interface WorkflowReadContext {
  /** Names of the providers of `.dstack/providers.yaml`. */
  customProviders: ReadonlySet<string>;
  /**
   * The variables a workflow sees, the same as environment variables (`batch-size` -> `BATCH_SIZE`,
   * shared by workflows that see the same variables: read-only), and where to define a missing one.
   */
  scopeFor(workflow: string): Pick<SubstitutionScope, "variables" | "defineHint" | "fromCommandLine"> & { variableEnv: Readonly<Record<string, string>> };
  run: LoadOptions["run"];
}

/** A workflow read from its list item: `workflow` is undefined when it has no usable name or provider. */
export interface ReadWorkflowResult {
  workflow?: Workflow;
  name?: string;
  nameNode?: Node;
  dependencies: LocatedDependency[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Fields whose `$var` shell-style substitutions are reported, in the order they are checked. */
const SHELL_CHECKED_KEYS: readonly string[] = ["commands", "artifacts", "template"];

/** Reads one item of `workflows:`, reporting every problem of it. */
export function readWorkflow(item: YAMLMap, yaml: YamlFile, context: WorkflowReadContext): ReadWorkflowResult {
  const entries = yaml.entries(item);
  // The keys read apart, found in one pass rather than a `find` (and its closure) per key.
  let nameEntry: Entry | undefined;
  let providerEntry: Entry | undefined;
  const shellChecked: Array<Entry | undefined> = [undefined, undefined, undefined];
  for (const entry of entries) {
    const at = SHELL_CHECKED_KEYS.indexOf(entry.key);
    if (at >= 0) shellChecked[at] ??= entry;
    else if (entry.key === "name") nameEntry ??= entry;
    else if (entry.key === "provider") providerEntry ??= entry;
  }
  const name = readName(nameEntry, item, entries, yaml);
  const { variables: visible, variableEnv, defineHint, fromCommandLine } = context.scopeFor(name ?? "");
  const scope: SubstitutionScope = context.run ? { variables: visible, defineHint, fromCommandLine, run: context.run } : { variables: visible, defineHint, fromCommandLine };
  let usesRunArgs = false;
  // One callback per workflow, not a new closure for every value read.
  const onRunArgs = (): void => {
    usesRunArgs = true;
  };
  const dependencies: LocatedDependency[] = [];
  const ctx: FieldContext = {
    yaml,
    report: yaml.report,
    // Most values hold no `${{`: skip the substitution call for them.
    text: (node) => {
      const source = scalarSource(node);
      return source.includes("${{") ? substituteVariables(source, node, scope, yaml.report, onRunArgs) : source;
    },
    shellText: (node) => {
      const source = scalarSource(node);
      return source.includes("${{") ? substituteVariables(source, node, scope, yaml.report, onRunArgs, true) : source;
    },
    workflow: name ?? "",
    provider: "",
    dependencies,
  };
  const provider: ResolvedProvider | undefined = providerEntry ? resolveProvider(providerEntry, yaml, context.customProviders) : undefined;
  if (providerEntry === undefined) reportMissingProvider(entries, item, nameEntry?.keyNode, yaml, name ?? "");

  const start = yaml.report.position(yaml.report.range(item)[0]);
  const workflow: Workflow = blankWorkflow(name ?? "", provider && provider.kind !== "unknown" ? provider.id : "", {
    file: yaml.report.path,
    line: start.line,
    column: start.column,
  });
  // Canonical field name -> the key that set it. An object, not a Map: the names are a fixed set of
  // literals, and growing a Map's table for each workflow's ~10 fields made ~150 KB of garbage a 200-workflow load.
  const seen: Record<string, string> = {};
  const readField = (entry: Entry, spec: FieldSpec): void => {
    const earlier = seen[spec.canonical];
    if (earlier !== undefined && earlier !== entry.key) {
      yaml.report.error(entry.keyNode, "conflicting-fields", `\`${entry.key}\` and \`${earlier}\` both set \`${spec.canonical}\`; keep only \`${spec.renamedTo ? earlier : entry.key}\``);
      return;
    }
    seen[spec.canonical] = entry.key;
    if (spec.renamedTo !== undefined) {
      const value = isScalar(entry.value) && entry.value.value !== null ? ` ${scalarSource(entry.value)}` : "";
      yaml.report.warning(entry.keyNode, "renamed-field", spec.renameMessage ?? `\`${entry.key}\` is an older name of \`${spec.renamedTo}\`; write \`${spec.renamedTo}:${value}\``);
    }
    spec.read(entry, ctx, workflow);
  };

  // The fields unknown keys most likely meant, so that their "needs" errors are not repeated (made only when one is).
  let misspelled: string[] | undefined;
  for (const entry of entries) {
    if (entry.key === "name" || entry.key === "provider") continue;
    if (LEGACY_KEYS.has(entry.key)) {
      reportLegacyKey(entry, yaml, name ?? "");
      continue;
    }
    if ((entry.key === "depends-on" || entry.key === "deps") && isMap(entry.value)) {
      dependencies.push(...reportLegacyDependsOn(entry, yaml));
      continue;
    }
    const common = COMMON_FIELDS[entry.key];
    if (common !== undefined) {
      readField(entry, common);
      continue;
    }
    if (provider?.kind === "builtin") {
      const spec = provider.schema.fields[entry.key] ?? misplacedResources[entry.key];
      if (spec !== undefined) readField(entry, spec);
      else {
        const meant = reportUnknownField(entry, provider.id, provider.schema.fields, yaml);
        if (meant !== undefined) (misspelled ??= []).push(meant);
      }
    } else if (provider?.kind === "custom" || provider?.kind === "repo") {
      // A custom provider gets the workflow's fields as written: read the ones every 2022 provider
      // meant the same way (under their own names, so no rename warning), and leave the rest to it.
      const spec = builtinField(entry.key);
      if (spec !== undefined) readField(entry, { ...spec, renamedTo: undefined });
    }
    // No provider (or an unknown one): its fields cannot be judged; the provider error says what to do.
  }

  if (provider?.kind === "builtin") {
    for (const required of provider.schema.required) {
      // `comands:` already got "did you mean `commands`?"; "needs `commands`" as well would say it twice.
      if (seen[required.canonical] === undefined && misspelled?.includes(required.key) !== true) {
        yaml.report.error(providerEntry?.keyNode ?? item, "missing-field", `workflow \`${workflow.name}\` (provider \`${provider.id}\`) needs \`${required.key}\`, e.g. \`${required.example}\``);
      }
    }
  }
  const variables = scope.variables;
  const legacy = providerEntry === undefined;
  for (const entry of shellChecked) if (entry !== undefined) reportShellVariables(entry.value, yaml, legacy, variables);
  workflow.dependsOn = dependencies.map((d) => d.ref);
  // Object.assign, not spreads: this runs per workflow, and spreading objects of several shapes is slow in V8.
  workflow.env = Object.assign({}, variableEnv, workflow.env);
  workflow.variables = Object.assign({}, variables);
  if (usesRunArgs) workflow.usesRunArgs = true;
  if (provider?.kind === "custom") workflow.providerSource = { kind: "custom" };
  if (provider?.kind === "repo") workflow.providerSource = { kind: "repo", repo: provider.repo };
  // Built field by field: spreading objects of several shapes is slow in V8, and this runs per workflow.
  const result: ReadWorkflowResult = { dependencies };
  if (name !== undefined && provider !== undefined && provider.kind !== "unknown") result.workflow = workflow;
  if (name !== undefined) result.name = name;
  if (nameEntry) result.nameNode = nameEntry.value ?? nameEntry.keyNode;
  return result;
}

function readName(entry: Entry | undefined, item: YAMLMap, entries: readonly Entry[], yaml: YamlFile): string | undefined {
  if (entry === undefined) {
    const id = entries.find((e) => e.key === "id");
    if (id === undefined) yaml.report.error(item, "missing-field", "a workflow needs a `name`, e.g. `- name: train`");
    return id && isScalar(id.value) && id.value.value !== null ? scalarSource(id.value).trim() : undefined;
  }
  if (!isScalar(entry.value) || entry.value.value === null) {
    yaml.report.error(entry.value ?? entry.keyNode, "invalid-name", `\`name\` must be a single word, e.g. \`name: train\`; got ${describeNode(entry.value)}`);
    return undefined;
  }
  const name = scalarSource(entry.value).trim();
  if (!NAME.test(name)) {
    yaml.report.error(entry.value, "invalid-name", `\`${name}\` cannot be a workflow name: use ASCII letters, digits, \`-\`, \`_\` and \`.\` (\`:\` and \`/\` mean tags and repositories in \`depends-on\`)`);
    return undefined;
  }
  return name;
}

/** Reports a key the provider does not take; returns the field it most likely meant, if one is close. */
function reportUnknownField(entry: Entry, provider: string, fields: Readonly<Record<string, FieldSpec>>, yaml: YamlFile): string | undefined {
  const own = [...Object.keys(COMMON_FIELDS), ...Object.keys(fields).filter((k) => fields[k]?.renamedTo === undefined), "name", "provider"];
  const meant = closestMatch(entry.key, own);
  const hint = meant === undefined ? "" : ` — did you mean \`${meant}\`?`;
  const owners = [...BUILTIN_PROVIDERS.values()].filter((p) => p.fields[entry.key] !== undefined).map((p) => `\`${p.id}\``);
  const elsewhere = owners.length > 0 ? ` (\`${entry.key}\` is a field of ${owners.join(", ")})` : "";
  const known = hint ? "" : `; \`${provider}\` takes ${own.filter((k) => k !== "name" && k !== "provider").map((k) => `\`${k}\``).join(", ")}`;
  yaml.report.error(entry.keyNode, "unknown-field", `unknown field \`${entry.key}\` for provider \`${provider}\`${hint}${elsewhere}${known}`);
  return meant;
}

/** The field spec the first built-in provider has for `key` (resources at the top level included). */
function builtinField(key: string): FieldSpec | undefined {
  for (const schema of BUILTIN_PROVIDERS.values()) {
    const spec = schema.fields[key];
    if (spec !== undefined) return spec;
  }
  return misplacedResources[key];
}

