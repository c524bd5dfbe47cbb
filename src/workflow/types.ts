/**
 * The workflow model: what `.dstack/workflows.yaml` (and friends) mean once loaded.
 * Pure data; produced by `loadWorkflows`, consumed by the planner, the API and the runner agent.
 * Fields may be added; existing ones keep their meaning (other parts rely on them).
 */

/** One input file, path relative to the repository root (e.g. `.dstack/workflows.yaml`). */
export interface SourceFile {
  path: string;
  text: string;
}

/** A located problem, line and column 1-based. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  severity: "error" | "warning";
  /** Stable machine code, e.g. `unknown-field`, `unknown-dependency`, `yaml-syntax`. */
  code: string;
  message: string;
}

export interface GpuSpec {
  count: number;
  /** As written by the user (e.g. `K80`, `a100`); matching is case-insensitive. */
  name?: string;
  memoryMiB?: number;
}

export interface Resources {
  gpu?: GpuSpec;
  cpu?: number;
  memoryMiB?: number;
  shmSizeMiB?: number;
  interruptible: boolean;
  nodes?: number;
}

export interface ArtifactSpec {
  /** Normalised: no leading `./`, no trailing `/`; may be absolute (see DESIGN.md §2). */
  path: string;
  mount: boolean;
}

/**
 * A dependency:
 * - `workflow`: run that workflow first, in the same run group;
 * - `tag`: reuse the run tagged `tag` (of `workflow` when given; `repo` = `owner/name` when cross-repo);
 *   `tag: "latest"` means the run tagged latest, else the latest successful run of `workflow`.
 */
export type DependencyRef =
  | { kind: "workflow"; workflow: string; repo?: string }
  | { kind: "tag"; tag: string; workflow?: string; repo?: string };

export interface Triggers {
  /** Present when the workflow runs on push; `branches` are globs, empty means every branch. */
  push?: { branches: string[] };
  /** Present when the workflow runs on tags; `tags` are globs, empty means every tag. */
  tag?: { tags: string[] };
}

export interface Workflow {
  name: string;
  help?: string;
  /** Provider id without any `@branch` suffix: `bash`, `python`, `docker`, `curl`, ... */
  provider: string;
  /** python: the script; also gradio/streamlit/torchrun file. */
  file?: string;
  /** Arguments passed to the program (python file args). */
  args: string[];
  /** Path of a requirements file, relative to the working dir. */
  requirements?: string;
  /** Python version, as a string (`"3.10"`, never a float). */
  version?: string;
  /** bash/docker commands, one shell line each. */
  commands: string[];
  /** Commands run before the main program (`setup` / `before_run`). */
  setup: string[];
  /** docker image. */
  image?: string;
  /** curl: source URL and output path. */
  url?: string;
  output?: string;
  /** Environment variables (from `environment` map or `env` list). */
  env: Record<string, string>;
  /** Relative to the repository root; undefined means the root. */
  workingDir?: string;
  artifacts: ArtifactSpec[];
  resources: Resources;
  dependsOn: DependencyRef[];
  /** Number of ports to expose (`ports: N`, or a list's length). */
  ports?: number;
  on: Triggers;
  /** Where the workflow is defined. */
  source: { file: string; line: number; column: number };
}

export interface LoadResult {
  workflows: Workflow[];
  /** Every problem found, errors and warnings; empty when the files are clean. */
  problems: Problem[];
}

export interface LoadOptions {
  /** Variable overrides from the command line (`--name value`), applied over variables.yaml. */
  variables?: Record<string, string>;
  /** Values of `${{ run.name }}` and `${{ run.args }}`. */
  run?: { name?: string; args?: string[] };
}
