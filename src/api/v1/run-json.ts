import { machineFacts, type MachineFacts } from "../../runs/machine-facts.js";
import type { GpuSeen, Run, RunAttempt } from "../../runs/types.js";

/** A run as the API shows it: no agent token hash, no workflow internals beyond what a user reads. */
export interface RunJson {
  id: string;
  repo: string;
  workflow: string;
  provider: string;
  status: Run["status"];
  reason?: string;
  commit: string;
  ref?: string;
  groupId: string;
  needs: string[];
  trigger: { kind: Run["trigger"]["kind"]; actor: string };
  code: "github" | "github+changes" | "upload";
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Every status the run entered, with its time, oldest first (the run page's timeline). */
  transitions: Array<{ status: Run["status"]; at: string }>;
  /** Milliseconds from start (or creation) to end, or to now while it runs. */
  durationMs?: number;
  exitCode?: number;
  logBytes: number;
  artifacts: Array<{ path: string; sizeBytes: number }>;
  tags: string[];
  variables: Record<string, string>;
  /** The run's page in this service. */
  url: string;
  /** The machine the backend gave the run, with what the check-run summary shows of it. */
  machine?: MachineJson;
  /** GPUs the agent found on its machine (`nvidia-smi`), on backends that check them. */
  gpusSeen?: GpuSeen[];
  /** What the backend reported while it looked for a machine (capacity errors, fallbacks). */
  provisioningNotes?: string[];
  /** Attempts that spot interruptions ended, oldest first; the current attempt (number length + 1) is on `machine`. */
  attempts?: AttemptJson[];
  /** The budget gate: `waiting` (with the message) until a writer approves; `approved` by whom. */
  approval?: { state: "waiting"; message: string } | { state: "approved"; by: string; at: string };
}

/** The machine as the API shows it: the backend's description and the facts of `machineFacts` (EC2: instance, boot time, cost). */
export type MachineJson = Omit<MachineFacts, "instanceId" | "final"> & {
  backend: string;
  id: string;
  description: string;
  /** True once the run ended: `costDollars` (price x time since launch) is the total. */
  costFinal: boolean;
};

/** An interrupted attempt as the API shows it: the record, times as ISO 8601. */
export type AttemptJson = Omit<RunAttempt, "interruptedAt" | "checkpointSavedAt" | "launchedAt"> & { interruptedAt: string; checkpointSavedAt?: string; launchedAt?: string };

function attemptJson(a: RunAttempt): AttemptJson {
  const { interruptedAt, checkpointSavedAt, launchedAt, ...rest } = a;
  return {
    ...rest,
    interruptedAt: new Date(interruptedAt).toISOString(),
    ...(checkpointSavedAt !== undefined ? { checkpointSavedAt: new Date(checkpointSavedAt).toISOString() } : {}),
    ...(launchedAt !== undefined ? { launchedAt: new Date(launchedAt).toISOString() } : {}),
  };
}

function machineJson(run: Run, nowMs: number): MachineJson | undefined {
  const facts = machineFacts(run, nowMs);
  if (run.machine === undefined || facts === undefined) return undefined;
  const { instanceId: _id, final, ...rest } = facts;
  return { backend: run.machine.backend, id: run.machine.id, description: run.machine.description, ...rest, costFinal: final };
}

export function runJson(run: Run, publicUrl: string, nowMs: number): RunJson {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const started = run.startedAt;
  return {
    id: run.id,
    repo: run.repo,
    workflow: run.workflow.name,
    provider: run.workflow.provider,
    status: run.status,
    ...(run.reason !== undefined ? { reason: run.reason } : {}),
    commit: run.commit,
    ...(run.ref !== undefined ? { ref: run.ref } : {}),
    groupId: run.groupId,
    needs: run.needs,
    trigger: { kind: run.trigger.kind, actor: run.trigger.actor },
    transitions: (run.transitions ?? []).map((t) => ({ status: t.status, at: new Date(t.at).toISOString() })),
    code: run.code.kind === "upload" ? "upload" : run.code.overlay !== undefined ? "github+changes" : "github",
    createdAt: new Date(run.createdAt).toISOString(),
    ...(started !== undefined ? { startedAt: iso(started), durationMs: (run.finishedAt ?? nowMs) - started } : {}),
    ...(run.finishedAt !== undefined ? { finishedAt: iso(run.finishedAt) } : {}),
    ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
    logBytes: run.logBytes,
    artifacts: run.artifacts,
    tags: run.tags,
    variables: run.variables,
    url: `${publicUrl.replace(/\/$/, "")}/runs/${run.id}`,
    ...(run.machine !== undefined ? { machine: machineJson(run, nowMs) } : {}),
    ...(run.gpusSeen !== undefined ? { gpusSeen: run.gpusSeen } : {}),
    ...(run.provisioningNotes !== undefined ? { provisioningNotes: run.provisioningNotes } : {}),
    ...(run.attempts !== undefined && run.attempts.length > 0 ? { attempts: run.attempts.map(attemptJson) } : {}),
    ...(run.approval !== undefined
      ? { approval: run.approval.state === "waiting" ? run.approval : { state: "approved" as const, by: run.approval.by, at: new Date(run.approval.at).toISOString() } }
      : {}),
  };
}
