import { isMap, isScalar } from "yaml";
import type { Node } from "yaml";
import { didYouMean } from "./did-you-mean.js";
import { describeNode, scalarSource } from "./yaml-file.js";
import type { YamlFile } from "./yaml-file.js";

/** One section of `.dstack/variables.yaml`: `global` or a workflow's name. */
export interface VariableSection {
  name: string;
  keyNode: Node;
  yaml: YamlFile;
  /** Values as written: `lr: 1.0` is "1.0", `learning_rate: 0.00002` is "0.00002", `x:` is "". */
  values: Record<string, string>;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Reads `variables: {global: {...}, <workflow>: {...}}`. Values are kept as the user wrote them
 * (source text), since they become environment variables and `${{ }}` text, never numbers.
 */
export function readVariablesFile(yaml: YamlFile): VariableSection[] {
  const root = yaml.root;
  if (root === null) return [];
  if (!isMap(root)) {
    yaml.report.error(root, "invalid-type", `\`${yaml.report.path}\` must be a mapping with \`variables:\`; got ${describeNode(root)}`);
    return [];
  }
  const sections: VariableSection[] = [];
  for (const top of yaml.entries(root)) {
    if (top.key !== "variables") {
      yaml.report.error(top.keyNode, "unknown-field", `unknown key \`${top.key}\`${didYouMean(top.key, ["variables"]) || "; this file holds `variables:` only"}`);
      continue;
    }
    if (top.value === null) continue;
    if (!isMap(top.value)) {
      yaml.report.error(top.keyNode, "invalid-type", `\`variables\` must map \`global\` and workflow names to variables, e.g. \`variables: {train: {epochs: 10}}\`; got ${describeNode(top.value)}`);
      continue;
    }
    for (const section of yaml.entries(top.value)) {
      sections.push({ name: section.key, keyNode: section.keyNode, yaml, values: readSection(section.key, section.value, section.keyNode, yaml) });
    }
  }
  return sections;
}

function readSection(name: string, value: Node | null, keyNode: Node, yaml: YamlFile): Record<string, string> {
  const values: Record<string, string> = {};
  if (value === null) return values;
  if (!isMap(value)) {
    yaml.report.error(keyNode, "invalid-type", `variables of \`${name}\` must be a mapping, e.g. \`${name}: {epochs: 10}\`; got ${describeNode(value)}`);
    return values;
  }
  for (const variable of yaml.entries(value)) {
    if (!NAME.test(variable.key) || variable.key === "__proto__") {
      yaml.report.error(variable.keyNode, "invalid-variable-name", `\`${variable.key}\` cannot be a variable name: use ASCII letters, digits, \`-\`, \`_\` and \`.\``);
      continue;
    }
    if (variable.value === null) values[variable.key] = "";
    else if (isScalar(variable.value)) values[variable.key] = scalarSource(variable.value);
    else yaml.report.error(variable.keyNode, "invalid-type", `variable \`${variable.key}\` must be a single value; got ${describeNode(variable.value)}`);
  }
  return values;
}
