import type { Resources } from "../workflow/types.js";
import type { Run, RunStatus } from "./types.js";

/** Pure helpers that turn a run into the words users read in check runs, comments and pages. */

export function describeTrigger(run: Run): string {
  const t = run.trigger;
  const who = t.actor === "api" ? "the API" : `@${t.actor}`;
  switch (t.kind) {
    case "comment":
      return `comment by ${who}${t.prNumber !== undefined ? ` on #${t.prNumber}` : t.issueNumber !== undefined ? ` on #${t.issueNumber}` : ""}`;
    case "push":
      return `push by ${who}${run.ref !== undefined ? ` to ${run.ref}` : ""}`;
    case "tag":
      return `tag ${run.ref ?? ""} by ${who}`;
    case "rerun":
      return `re-run by ${who}`;
    case "api":
      return `dstack run by ${who}`;
    default: {
      const never: never = t.kind;
      return String(never);
    }
  }
}

export function describeResources(r: Resources): string {
  const parts: string[] = [];
  if (r.gpu !== undefined && r.gpu.count > 0) {
    parts.push(`${r.gpu.count}× GPU${r.gpu.name !== undefined ? ` ${r.gpu.name}` : ""}${r.gpu.memoryMiB !== undefined ? ` (${formatMiB(r.gpu.memoryMiB)})` : ""}`);
  }
  if (r.cpu !== undefined) parts.push(`${r.cpu} CPU`);
  if (r.memoryMiB !== undefined) parts.push(`${formatMiB(r.memoryMiB)} memory`);
  if (r.shmSizeMiB !== undefined) parts.push(`${formatMiB(r.shmSizeMiB)} shared memory`);
  if (r.interruptible) parts.push("interruptible (spot)");
  return parts.length === 0 ? "default" : parts.join(", ");
}

function formatMiB(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GB` : mib >= 1024 ? `${(mib / 1024).toFixed(1)} GB` : `${mib} MB`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** From the start (or, before it started, the creation) to the end, or to `now` while it is active. */
export function runDurationMs(run: Pick<Run, "createdAt" | "startedAt" | "finishedAt">, now: number): number {
  return (run.finishedAt ?? now) - (run.startedAt ?? run.createdAt);
}

export function runDuration(run: Run, now: number): string {
  return formatDuration(runDurationMs(run, now));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export const STATUS_LABEL: Record<RunStatus, string> = {
  submitted: "waiting",
  provisioning: "starting",
  running: "running",
  uploading: "uploading artifacts",
  done: "succeeded",
  failed: "failed",
  stopped: "was stopped",
  timed_out: "timed out",
};

export const STATUS_ICON: Record<RunStatus, string> = {
  submitted: "⏳",
  provisioning: "⏳",
  running: "🏃",
  uploading: "⏫",
  done: "✅",
  failed: "❌",
  stopped: "⏹️",
  timed_out: "⌛",
};

/** GitHub check-run conclusion for a terminal status (DESIGN.md §5). */
export function conclusionOf(status: RunStatus): "success" | "failure" | "cancelled" | "timed_out" | undefined {
  switch (status) {
    case "done":
      return "success";
    case "failed":
      return "failure";
    case "stopped":
      return "cancelled";
    case "timed_out":
      return "timed_out";
    case "submitted":
    case "provisioning":
    case "running":
    case "uploading":
      return undefined;
    default: {
      const never: never = status;
      return never;
    }
  }
}

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
export function isImage(p: string): boolean {
  return IMAGE.test(p);
}
