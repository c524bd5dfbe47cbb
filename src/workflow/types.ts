/**
 * The workflow model: what `.dstack/workflows.yaml` (and friends) mean once loaded.
 * Pure data; produced by `loadWorkflows`, consumed by the planner, the API and the runner agent.
 * Fields may be added; existing ones keep their meaning (other parts rely on them).
 */

/** One input file, path relative to the repository root (e.g. `.dstack/workflows.yaml`). */
export interface SourceFile {
  path: string;
  text: string;
  /** The file's size when its text was not read because it is over the limit (GitHub's contents API listing). */
  sizeBytes?: number;
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
  /** End of the offending node (1-based, inclusive line; column just past it), when known. */
  endLine?: number;
  endColumn?: number;
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
  /** `local: true` (Oct 2022+): run on the machine that asked, not in the cloud. */
  local?: boolean;
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
  | { kind: "workflow"; workflow: string; repo?: string; mount?: boolean }
  | { kind: "tag"; tag: string; workflow?: string; repo?: string; mount?: boolean };

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
  /** Apps and dev environments: the version of the app itself (JupyterLab, OpenVSCode Server, Streamlit...). */
  appVersion?: string;
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
  /**
   * `checkpoints:` paths relative to the working dir (normalised, never absolute or with `..`): saved
   * to the artifact store when a spot instance is interrupted and restored before the next attempt.
   * Absent when the workflow declares none.
   */
  checkpoints?: string[];
  resources: Resources;
  dependsOn: DependencyRef[];
  /** Number of ports to expose (`ports: N`, or a list's length). */
  ports?: number;
  on: Triggers;
  /** Where the workflow is defined. */
  source: { file: string; line: number; column: number };
  /**
   * The variables this workflow sees (`global`, its own section of `.dstack/variables.yaml`, then
   * `LoadOptions.variables`), by their names as written; also given to it in `env` upper-cased.
   */
  variables?: Record<string, string>;
  /** True when a field uses `${{ run.args }}` (extra `dstack run` arguments reach the workflow). */
  usesRunArgs?: boolean;
  /** fastapi: the app, `module:attribute`. */
  app?: string;
  /** tensorboard: the runs whose logs it shows, and the log folder within them. */
  runs?: string[];
  logdir?: string;
  /**
   * Where the provider comes from when it is not built in: `custom` = `.dstack/providers.yaml` of
   * this repository, `repo` = `provider: {repo, name}` (then `provider` is `owner/repo/name`).
   * Absent for built-in providers. Neither kind is executable yet (see `unsupportedProviderMessage`).
   */
  providerSource?: { kind: "custom" } | { kind: "repo"; repo: string };
}

/** Resource changes asked for on the command line (`dstack run train --gpu 2 -i`). */
export interface ResourceOverrides {
  gpu?: { count?: number; name?: string; memoryMiB?: number };
  cpu?: number;
  memoryMiB?: number;
  shmSizeMiB?: number;
  interruptible?: boolean;
  local?: boolean;
}

/** A tag dependency, reused from the run store instead of run in the group. */
export type TagDependency = DependencyRef & { kind: "tag" };

/** One workflow of a run group and what it waits for. */
export interface RunGroupNode {
  workflow: Workflow;
  /** Names of the workflows of this group it waits for (their artifacts are restored first). */
  needs: string[];
  /** Tag dependencies, resolved by the caller against the run store. */
  reuse: TagDependency[];
}

/** The workflows to run for one target, dependencies first (topological, deterministic), target last. */
export interface RunGroupPlan {
  target: string;
  nodes: RunGroupNode[];
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
