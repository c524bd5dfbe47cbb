import type { Run } from "../../runs/types.js";

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
  /** Milliseconds from start (or creation) to end, or to now while it runs. */
  durationMs?: number;
  exitCode?: number;
  logBytes: number;
  artifacts: Array<{ path: string; sizeBytes: number }>;
  tags: string[];
  variables: Record<string, string>;
  /** The run's page in this service. */
  url: string;
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
  };
}
