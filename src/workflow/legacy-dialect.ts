import { isMap, isPair, isScalar, isSeq } from "yaml";
import type { Node, Scalar, YAMLMap } from "yaml";
import type { LocatedDependency } from "./fields/field-context.js";
import { listInline } from "./did-you-mean.js";
import { BUILTIN_PROVIDERS } from "./provider-registry.js";
import type { Entry, YamlFile } from "./yaml-file.js";
import { scalarSource } from "./yaml-file.js";

/**
 * The 2021 and early-2022 dialects (no `provider`; `id`, `params`, `dependencies`, `template:`,
 * object `depends-on`, `$var`): each gets a located error that shows how to write it today.
 */

/** Keys only the older dialects had; `reportLegacyKey` explains each. */
export const LEGACY_KEYS: ReadonlySet<string> = new Set(["id", "params", "dependencies", "template"]);

/** Reports an older-dialect key of a workflow (`id`, `params`, `dependencies`, `template`). */
export function reportLegacyKey(entry: Entry, yaml: YamlFile, workflow: string): void {
  const report = yaml.report;
  switch (entry.key) {
    case "id": {
      const name = isScalar(entry.value) ? scalarSource(entry.value) : workflow;
      report.error(entry.keyNode, "legacy-syntax", `\`id\` is the 2021 name of \`name\`; write \`name: ${name}\``);
      return;
    }
    case "params": {
      const values = paramDefaults(entry.value, yaml);
      const section = `{${workflow || "WORKFLOW"}: {${values.map(([k, v]) => `${k}: ${v}`).join(", ") || "NAME: VALUE"}}}`;
      const first = values[0]?.[0] ?? "NAME";
      report.error(entry.keyNode, "legacy-syntax", `\`params\` (2021) is no longer read: put the values in \`.dstack/variables.yaml\` as \`variables: ${section}\` and write \`\${{ ${first} }}\` where a value goes`);
      return;
    }
    case "dependencies": {
      const names = dependencyIds(entry.value, yaml);
      report.error(entry.keyNode, "legacy-syntax", `\`dependencies\` (2021) is no longer read; write \`depends-on: [${names.join(", ") || "NAME"}]\` (another repository's workflow is \`owner/repo/name\`)`);
      return;
    }
    case "template": {
      const keys = isMap(entry.value) ? yaml.entries(entry.value).map((e) => e.key) : [];
      report.error(
        entry.keyNode,
        "legacy-syntax",
        `\`template:\` (February 2022) is no longer read: move ${keys.length ? listInline(keys) : "its fields"} up into the workflow and add \`provider: docker\` (\`image\` + \`commands\`)`,
      );
      return;
    }
  }
}

/** A workflow without `provider`: the 2021/early-2022 `image` + `commands` form, or a plain omission. */
export function reportMissingProvider(entries: readonly Entry[], item: YAMLMap, nameNode: Node | undefined, yaml: YamlFile, workflow: string): void {
  const image = entries.find((e) => e.key === "image");
  const commands = entries.find((e) => e.key === "commands");
  const template = entries.find((e) => e.key === "template");
  const label = workflow ? `workflow \`${workflow}\`` : "this workflow";
  if (template !== undefined) return; // the `template:` error says what to write, provider included
  if (image !== undefined) {
    yaml.report.error(
      image.keyNode,
      "legacy-syntax",
      `${label} has no \`provider\`: \`image\` + \`commands\` without a provider is the 2021/early-2022 form; write \`provider: docker\` and keep \`image\` and \`commands\` (or \`provider: bash\` to run the commands in dstack's own image)`,
    );
    return;
  }
  // `commands` alone is most often today's bash workflow with its provider forgotten, not the 2021 form.
  if (commands !== undefined) {
    yaml.report.error(commands.keyNode, "missing-provider", `${label} has no \`provider\`; add \`provider: bash\` to run its \`commands\` (or \`provider: docker\` with an \`image\` to run them in that image)`);
    return;
  }
  yaml.report.error(nameNode ?? item, "missing-provider", `${label} has no \`provider\`; add one, e.g. \`provider: bash\`. Providers: ${listInline([...BUILTIN_PROVIDERS.keys()])}`);
}

/**
 * The 2021 mapping form `depends-on: {repo: {include: [...]}, workflows: [...]}`. Reports it, and
 * returns the listed workflows so that unknown names still get their "did you mean".
 */
export function reportLegacyDependsOn(entry: Entry, yaml: YamlFile): LocatedDependency[] {
  const located: LocatedDependency[] = [];
  let hasRepo = false;
  if (isMap(entry.value)) {
    for (const field of yaml.entries(entry.value)) {
      if (field.key === "repo") hasRepo = true;
      if (field.key !== "workflows" || !isSeq(field.value)) continue;
      for (const item of yaml.items(field.value)) {
        if (isScalar(item) && item.value !== null) located.push({ ref: { kind: "workflow", workflow: scalarSource(item).trim() }, where: item });
      }
    }
  }
  const names = located.map((d) => (d.ref.kind === "workflow" ? d.ref.workflow : ""));
  const include = "`repo.include` has no equivalent: every run uses the files of its commit";
  const fix = names.length > 0 ? `write a list of workflow names: \`depends-on: [${names.join(", ")}]\`${hasRepo ? `; ${include}` : ""}` : `remove it (${include})`;
  yaml.report.error(entry.keyNode, "legacy-syntax", `\`${entry.key}\` as a mapping (\`repo\`, \`workflows\`) is the 2021 form; ${fix}`);
  return located;
}

const SHELL_VAR = /\$(?:\{([a-z_][a-z0-9_]*)\}|([a-z_][a-z0-9_]*))/g;
const RUN_NAME = new Set(["run_name", "job_name", "job_id"]);

/**
 * `$var` substitution. In a provider-less (2021) workflow every lower-case `$name` in `commands` and
 * `artifacts` was dstack's, so each is an error with its `${{ }}` form; in a current workflow `$x` is
 * the shell's, and only a `$name` naming one of the workflow's variables gets a warning.
 */
export function reportShellVariables(node: Node | null, yaml: YamlFile, legacy: boolean, variables: Readonly<Record<string, string>>): void {
  if (node === null) return;
  const report = yaml.report;
  forEachScalar(node, (scalar) => {
    if (typeof scalar.value !== "string" || !scalar.value.includes("$")) return;
    const [start, end] = report.range(scalar);
    const raw = report.text.slice(start, end);
    for (const match of raw.matchAll(SHELL_VAR)) {
      const name = (match[1] ?? match[2]) as string;
      const where: [number, number] = [start + (match.index ?? 0), start + (match.index ?? 0) + match[0].length];
      if (legacy) report.error(where, "legacy-syntax", legacyVariableMessage(match[0], name));
      else if (name in variables) {
        report.warning(where, "shell-variable", `\`${match[0]}\` is not replaced by dstack; write \`\${{ ${name} }}\`, or \`$${name.replace(/[^A-Za-z0-9_]/g, "_").toUpperCase()}\` (variables reach the workflow as environment variables)`);
      }
    }
  });
}

/** Every scalar under a node, keys included, in document order; aliases are not followed. */
function forEachScalar(node: unknown, fn: (scalar: Scalar) => void): void {
  if (isScalar(node)) fn(node);
  else if (isMap(node) || isSeq(node)) for (const item of node.items) forEachScalar(item, fn);
  else if (isPair(node)) {
    forEachScalar(node.key, fn);
    forEachScalar(node.value, fn);
  }
}

function legacyVariableMessage(written: string, name: string): string {
  if (RUN_NAME.has(name)) return `\`${written}\` (2021) is now \`\${{ run.name }}\``;
  if (name === "variables_as_args") {
    return `\`${written}\` (2021) is gone: pass the variables you need, e.g. \`--model \${{ model }}\`, or read them from the environment (\`MODEL\`)`;
  }
  return `\`${written}\` is 2021 shell-style substitution; write \`\${{ ${name} }}\` (defined in \`.dstack/variables.yaml\`)`;
}

function paramDefaults(value: Node | null, yaml: YamlFile): Array<[string, string]> {
  if (!isSeq(value)) return [];
  const out: Array<[string, string]> = [];
  for (const item of yaml.items(value)) {
    if (!isMap(item)) continue;
    const fields = new Map(yaml.entries(item).map((e) => [e.key, e.value]));
    const id = fields.get("id");
    const fallback = fields.get("default");
    if (isScalar(id)) out.push([scalarSource(id), isScalar(fallback) ? scalarSource(fallback) : '""']);
  }
  return out;
}

function dependencyIds(value: Node | null, yaml: YamlFile): string[] {
  if (!isSeq(value)) return [];
  return yaml.items(value).flatMap((item) => {
    if (!isMap(item)) return [];
    const id = yaml.entries(item).find((e) => e.key === "id")?.value;
    return isScalar(id) ? [scalarSource(id)] : [];
  });
}
