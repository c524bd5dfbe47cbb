import type { YamlFile } from "../yaml-file.js";
import { scalarSource } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";

/** A reading context without `${{ }}` substitution, for variables.yaml and providers.yaml. */
export function plainContext(yaml: YamlFile): FieldContext {
  return { yaml, report: yaml.report, text: scalarSource, workflow: "", provider: "", dependencies: [] };
}
