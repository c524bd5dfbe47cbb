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

/** A set of checkpoint files saved by one attempt (`runs/<id>/checkpoints/<attempt>/<path>` in the artifact store). */
export interface CheckpointSet {
  attempt: number;
  files: ArtifactFile[];
  savedAt: number;
}

/**
 * The current attempt's spot interruption notice: recorded when the agent reports it, `reportedAt`
 * once the agent has stopped the workflow and saved the checkpoint paths (or given up on it).
 */
export interface Interruption {
  /** The attempt it ended (1-based). */
  attempt: number;
  noticedAt: number;
  /** When EC2 said it takes the instance back (ISO time from the metadata service), if it said. */
  actionAt?: string;
  reportedAt?: number;
}

/** An earlier attempt of a run, ended by a spot interruption; the run went on in a new attempt. */
export interface RunAttempt {
  attempt: number;
  /** The machine's description, and its instance type and market where the backend says (EC2). */
  machine: string;
  /** The backend's id of the machine: an instance id on EC2 (absent in records from before it was kept). */
  machineId?: string;
  instanceType?: string;
  market?: string;
  zone?: string;
  interruptedAt: number;
  /** The checkpoint files it saved (none when the workflow declares no `checkpoints` or saving failed). */
  checkpointFiles: number;
  checkpointBytes: number;
  checkpointSavedAt?: number;
  /** Its machine's hourly price, GPUs and launch (EC2), so the run's cost and budget count this attempt too. */
  pricePerHour?: number;
  gpuCount?: number;
  launchedAt?: number;
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
  /** Every status the run entered, with its time (ms), oldest first (run-store.ts records them atomically). */
  transitions?: Array<{ status: RunStatus; at: number }>;
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
  /** Earlier attempts ended by spot interruptions, oldest first (absent when the run never was interrupted). */
  attempts?: RunAttempt[];
  /** The current attempt got a spot interruption notice; the supervisor resumes the run in a new attempt. */
  interruption?: Interruption;
  /** The latest complete checkpoint set, restored into the working dir before the next attempt. */
  checkpoint?: CheckpointSet;
  /** True once the conclusion was published (check run, comment, dependents). */
  concluded: boolean;
  variables: Record<string, string>;
  /** When the run entered `provisioning`: the start of its boot time. */
  provisioningAt?: number;
  /** The agent's first request (`GET /job`): the end of its machine's boot time. */
  agentContactAt?: number;
  /** What the backend reported while it looked for a machine ("no g5.xlarge capacity in us-east-1a, trying us-east-1b"), in order. */
  provisioningNotes?: string[];
  /** GPUs the agent found on its machine (`nvidia-smi`), when it looked. */
  gpusSeen?: GpuSeen[];
  /** The budget gate (DSTACK_EC2_BUDGET_PER_DAY): the run waits for a writer's approval, or got it. */
  approval?: RunApproval;
}

/** A GPU as `nvidia-smi` names it on the run's machine. */
export interface GpuSeen {
  name: string;
  memoryMiB: number;
}

/**
 * `waiting`: held in `submitted` until a writer approves (`message` says why); `approved`: let through
 * by `by` (a login, shown; or `api`), whose GitHub user id is `byId` (absent for `api` and for
 * approvals recorded before ids were kept): the login may later name someone else.
 */
export type RunApproval = { state: "waiting"; message: string } | { state: "approved"; by: string; byId?: number; at: number };
