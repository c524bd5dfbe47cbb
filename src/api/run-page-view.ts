import { machineFacts, machineFactsView } from "../runs/machine-facts.js";
import { describeResources, describeTrigger, formatBytes, runDuration, runDurationMs } from "../runs/run-view.js";
import { isTerminal, type ArtifactFile, type Run } from "../runs/types.js";
import { formatTime } from "./page-response.js";
import { attemptRows } from "./run-attempts-view.js";

/** One node of the artifacts tree: a folder (with children) or a file (with its links). */
export interface ArtifactNode {
  name: string;
  isDir: boolean;
  size: string;
  downloadUrl?: string;
  previewUrl?: string;
  /** Small text files: the page fetches and shows them (as text) on demand. */
  textPreviewUrl?: string;
  children: ArtifactNode[];
}

/** Images the browser shows inline; SVG is left out (it can carry script). */
const PREVIEW = /\.(png|jpe?g|gif|webp)$/i;
/** Text files previewed on the page when asked, up to this size. */
const TEXT_PREVIEW = /\.(txt|log|md|json|jsonl|csv|tsv|ya?ml|toml|ini|cfg|py|sh|js|ts|html?|xml)$/i;
const TEXT_PREVIEW_BYTES = 64 * 1024;
/** Artifacts listed at most on the page; the archive download has them all. */
const MAX_LISTED = 2000;

export function artifactFileUrl(runId: string, filePath: string): string {
  return `/api/v1/runs/${encodeURIComponent(runId)}/artifacts/file?path=${encodeURIComponent(filePath)}`;
}

/** Names as a person sorts them: `epoch-2` before `epoch-10`. */
function byName(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** The run's artifact paths as a folder tree, folders first, with sizes summed up the tree. */
export function artifactTree(runId: string, files: readonly ArtifactFile[]): ArtifactNode[] {
  interface Dir {
    dirs: Map<string, Dir>;
    files: ArtifactNode[];
    bytes: number;
  }
  const root: Dir = { dirs: new Map(), files: [], bytes: 0 };
  for (const f of files.slice(0, MAX_LISTED)) {
    const parts = f.path.split("/").filter((p) => p !== "");
    let dir = root;
    dir.bytes += f.sizeBytes;
    for (const part of parts.slice(0, -1)) {
      let next = dir.dirs.get(part);
      if (next === undefined) {
        next = { dirs: new Map(), files: [], bytes: 0 };
        dir.dirs.set(part, next);
      }
      next.bytes += f.sizeBytes;
      dir = next;
    }
    const url = artifactFileUrl(runId, f.path);
    dir.files.push({
      name: parts.at(-1) ?? f.path,
      isDir: false,
      size: formatBytes(f.sizeBytes),
      downloadUrl: url,
      ...(PREVIEW.test(f.path) ? { previewUrl: url } : {}),
      ...(TEXT_PREVIEW.test(f.path) && f.sizeBytes <= TEXT_PREVIEW_BYTES ? { textPreviewUrl: url } : {}),
      children: [],
    });
  }
  const toNodes = (dir: Dir): ArtifactNode[] => [
    ...[...dir.dirs.entries()].sort(([a], [b]) => byName(a, b)).map(([name, d]) => ({ name, isDir: true, size: formatBytes(d.bytes), children: toNodes(d) })),
    ...dir.files.sort((a, b) => byName(a.name, b.name)),
  ];
  return toNodes(root);
}

/** The tree as table rows, depth-first, each with its depth (for indentation, capped at 8) and full path. */
export function artifactRows(nodes: readonly ArtifactNode[], depth = 0, parent = ""): Array<ArtifactNode & { depth: number; path: string }> {
  return nodes.flatMap((n) => {
    const p = parent === "" ? n.name : `${parent}/${n.name}`;
    return [{ ...n, depth: Math.min(depth, 8), path: p }, ...artifactRows(n.children, depth + 1, p)];
  });
}

/**
 * The states a run went through with their times: every recorded transition (submitted,
 * provisioning, running, uploading, the final state); runs from before transitions were recorded
 * show what their record kept.
 */
export function timeline(run: Run): Array<{ label: string; time: string }> {
  if (run.transitions !== undefined && run.transitions.length > 0) {
    return run.transitions.map((t, i) => ({ label: i === (run.transitions?.length ?? 0) - 1 && !isTerminal(t.status) ? `${t.status} (now)` : t.status, time: formatTime(t.at) }));
  }
  const items = [{ label: "submitted", time: formatTime(run.createdAt) }];
  if (run.startedAt !== undefined) items.push({ label: "started", time: formatTime(run.startedAt) });
  if (run.finishedAt !== undefined) items.push({ label: run.status, time: formatTime(run.finishedAt) });
  else if (run.status !== "submitted") items.push({ label: `${run.status} (now)`, time: "" });
  return items;
}

/**
 * Everything `run-page.html` shows but the code source (which needs signed links). `canChange`:
 * the viewer may stop, re-run and tag (write permission); without it those buttons are left out.
 */
export function runPageView(run: Run, nowMs: number, canChange = true) {
  const [owner = "", name = ""] = run.repo.split("/");
  return {
    runId: run.id,
    repo: run.repo,
    settingsUrl: `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/settings`,
    workflow: run.workflow.name,
    status: run.status,
    active: !isTerminal(run.status),
    canChange,
    reason: run.status === "submitted" && run.approval?.state === "waiting" ? run.approval.message : run.reason,
    trigger: describeTrigger(run),
    commit: /^0+$/.test(run.commit) ? "none (an uploaded working tree)" : run.commit,
    ref: run.ref,
    provider: run.workflow.provider,
    resources: describeResources(run.workflow.resources),
    machine: run.machine?.description ?? "not yet assigned",
    facts: machineFactsView(machineFacts(run, nowMs), run.workflow.resources.interruptible),
    provisioningNotes: run.provisioningNotes ?? [],
    attempts: attemptRows(run, nowMs),
    duration: runDuration(run, nowMs),
    /** The page counts on from it while the run is active (`web/run-page.js`). */
    durationMs: runDurationMs(run, nowMs),
    timeline: timeline(run),
    dependencies: run.inputs.map((i) => ({ workflow: i.workflow, runId: i.runId, url: `/runs/${encodeURIComponent(i.runId)}` })),
    tags: run.tags,
    canTag: canChange && run.status === "done",
    // Not again when the reason says it already ("the workflow exited with code 127 · exit code 127").
    exitCode: run.exitCode !== undefined && run.reason?.includes(`code ${run.exitCode}`) === true ? undefined : run.exitCode,
    workflowText: JSON.stringify(run.workflow, null, 2),
    artifacts: artifactRows(artifactTree(run.id, run.artifacts)),
    // The tree lists MAX_LISTED files at most: the page says so rather than leave the rest out silently.
    artifactsNotListed: run.artifacts.length > MAX_LISTED ? { listed: MAX_LISTED, total: run.artifacts.length } : undefined,
    archiveUrl: `/api/v1/runs/${encodeURIComponent(run.id)}/artifacts/archive`,
    logUrl: `/runs/${encodeURIComponent(run.id)}/log?download=1`,
    logSize: formatBytes(run.logBytes),
    logBytes: run.logBytes,
  };
}
