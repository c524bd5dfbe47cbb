import type { Node, Scalar } from "yaml";
import type { FileReporter } from "../file-reporter.js";
import type { Entry, YamlFile } from "../yaml-file.js";
import type { DependencyRef, Workflow } from "../types.js";

/** A dependency and the node it was read from (graph checks report there). */
export interface LocatedDependency {
  ref: DependencyRef;
  where: Node;
}

/** What a field reader gets: the file, `${{ }}` substitution for this workflow, names for messages. */
export interface FieldContext {
  readonly yaml: YamlFile;
  readonly report: FileReporter;
  /** A scalar's text as written (see `scalarSource`), with `${{ name }}` substituted. */
  text(node: Scalar): string;
  /**
   * `text` for a shell line (`commands`, `setup`): values given on the command line (a PR comment)
   * are substituted shell-quoted, so `--msg '$(rm -rf ~)'` stays one word. Default: `text`.
   */
  shellText?(node: Scalar): string;
  /** The workflow's name, for messages. */
  readonly workflow: string;
  /** The provider id, for messages. */
  readonly provider: string;
  /** Dependencies read so far, with their nodes (graph checks report there). */
  readonly dependencies: LocatedDependency[];
}

/**
 * How one key of a workflow is read. Keys that set the same thing share a `canonical` name
 * (`file`, `script`, `python_script`), so giving two of them is reported as a conflict.
 */
export interface FieldSpec {
  canonical: string;
  /** For older key names: the current key, named in the warning. */
  renamedTo?: string;
  /** Overrides the standard rename warning (e.g. top-level `gpu` belongs under `resources`). */
  renameMessage?: string;
  read(entry: Entry, ctx: FieldContext, workflow: Workflow): void;
}

/** A field a provider cannot run without, with an example for the message. */
export interface RequiredField {
  canonical: string;
  key: string;
  example: string;
}

/** The fields of one provider, beside the common ones (name, help, depends-on, artifacts, resources, on). */
export interface ProviderSchema {
  id: string;
  fields: Readonly<Record<string, FieldSpec>>;
  required: readonly RequiredField[];
}
