import type { Workflow } from "../workflow/types.js";

/** DESIGN.md §6. */
export const RUN_STATUSES = ["submitted", "provisioning", "running", "uploading", "done", "failed", "stopped", "timed_out"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = ["done", "failed", "stopped", "timed_out"];
export const ACTIVE_STATUSES: readonly RunStatus[] = ["submitted", "provisioning", "running", "uploading"];

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** What started a run: shown in summaries and used for permissions and secrets. */
export interface Trigger {
  kind: "comment" | "push" | "tag" | "rerun" | "api";
  /** GitHub login (or `api`) of who asked. */
  actor: string;
  prNumber?: number;
  issueNumber?: number;
  commentId?: number;
  /** The run comes from a fork PR: it never receives secrets. */
  fork?: boolean;
}

/** The machine a backend gave a run. */
export interface Machine {
  backend: string;
  /** Backend's id for it: a pid for local, an instance id for EC2. */
  id: string;
  /** Human description, e.g. `local process 1234 on host` or `g4dn.xlarge (T4) in us-east-1a`. */
  description: string;
  details: Record<string, string | number>;
}

/** An artifact file of a finished run: `path` within the run's artifacts, as the workflow wrote it. */
export interface ArtifactFile {
  path: string;
  sizeBytes: number;
}

/** A dependency whose artifacts are placed in the run's working dir before it starts. */
export interface RunInput {
  runId: string;
  workflow: string;
}

/** Local changes on top of a commit: changed and untracked files (a tar.gz in the artifact store), and deletions. */
export interface CodeOverlay {
  key: string;
  deleted: string[];
}

export interface Run {
  id: string;
  /** `owner/name`. */
  repo: string;
  installationId?: number;
  workflow: Workflow;
  commit: string;
  ref?: string;
  trigger: Trigger;
  status: RunStatus;
  /** Why a run is in its state: a failure reason, `stopped by @x`, ... */
  reason?: string;
  /** Runs planned together share a group; `needs` are run ids in the same group. */
  groupId: string;
  needs: string[];
  /** Runs whose artifacts this run receives (in-group needs and resolved tag deps). */
  inputs: RunInput[];
  checkRunId?: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  machine?: Machine;
  heartbeatAt?: number;
  exitCode?: number;
  logBytes: number;
  artifacts: ArtifactFile[];
  stopRequested?: string;
  /**
   * Where the code comes from: the commit on GitHub (plus, from the CLI, the local changes: a
   * tarball of changed and untracked files laid over it and the files deleted locally), or a
   * tarball of the whole working tree uploaded to the artifact store.
   */
  code: { kind: "github"; overlay?: CodeOverlay } | { kind: "upload"; key: string };
  tags: string[];
  /** True once the conclusion was published (check run, comment, dependents). */
  concluded: boolean;
  variables: Record<string, string>;
}
