import { refusedReason, uploadArtifacts, type Uploaded } from "./artifacts.js";
import type { AgentClient } from "./client.js";
import type { AgentConfig } from "./config.js";
import type { FinishReport, InterruptionNotice, JobSpec } from "./job-spec.js";
import type { Output } from "./python-env.js";
import { watchSpotInterruption, type SpotNotice } from "./spot-watch.js";

/** Why the agent stopped the workflow: EC2 takes the spot instance back (the run resumes elsewhere). */
export class SpotInterrupted extends Error {
  constructor(readonly notice: SpotNotice) {
    super(`spot interruption notice${notice.actionAt !== undefined ? `: EC2 takes the instance back at ${notice.actionAt}` : ""}`);
  }
}

/**
 * On EC2 (a metadata URL configured), watches for the spot interruption notice; on it, tells the
 * service at once (so it resumes the run even if this machine vanishes before the agent reports
 * again) and aborts `stop` with a `SpotInterrupted`, which stops the workflow (SIGTERM, so it can
 * write a last checkpoint, then SIGKILL after the grace period).
 */
export function startInterruptionWatch(config: AgentConfig, client: Pick<AgentClient, "post">, stop: AbortController, out: Output): { stop(): void } {
  if (config.metadataUrl === undefined) return { stop() {} };
  return watchSpotInterruption({
    metadataUrl: config.metadataUrl,
    onNotice(notice) {
      if (stop.signal.aborted) return;
      out.write(`[dstack] ${new SpotInterrupted(notice).message}; stopping the workflow and saving its checkpoints\n`);
      const body: InterruptionNotice = notice.actionAt !== undefined ? { actionAt: notice.actionAt } : {};
      void client.post("/interruption", body, 2).catch((err: unknown) => out.write(`[dstack] warning: reporting the interruption failed: ${(err as Error).message}\n`));
      stop.abort(new SpotInterrupted(notice));
    },
    onProblem: (message) => out.write(`[dstack] warning: ${message}\n`),
  });
}

/**
 * The report of an interrupted attempt: the `checkpoints:` paths uploaded to the run's checkpoint
 * set (none when the workflow declares none, the working dir was never made, or saving failed: the
 * service then restores the last complete set, if any).
 */
export async function saveOnInterruption(
  deps: { client: AgentClient; out: Output; mask(text: string): string },
  input: { cwd: string | undefined; paths: readonly string[]; interrupted: SpotInterrupted; uploadLimits?: JobSpec["uploadLimits"] },
): Promise<FinishReport> {
  let checkpoints: Uploaded[] = [];
  let reason = input.interrupted.message;
  if (input.paths.length === 0) {
    deps.out.write("[dstack] the workflow declares no `checkpoints`: the next attempt starts from the beginning\n");
  } else if (input.cwd !== undefined) {
    try {
      const saved = await uploadArtifacts(deps, { cwd: input.cwd, artifacts: input.paths.map((p) => ({ path: p })), kind: "checkpoint", mask: deps.mask, uploadLimits: input.uploadLimits });
      if (saved.refused.length > 0) {
        // A set without some of its files may not resume at all (weights without their optimizer state): none is kept.
        deps.out.write("[dstack] error: the checkpoint set is incomplete, so it is not kept: the next attempt starts from the last complete set, or from the beginning\n");
        reason = `${reason}; ${refusedReason(saved.refused)}`;
      } else {
        checkpoints = saved.uploaded;
        const seconds = ((Date.now() - input.interrupted.notice.seenAt) / 1000).toFixed(1);
        deps.out.write(`[dstack] checkpoints saved ${seconds} s after the interruption notice\n`);
      }
    } catch (err) {
      const message = deps.mask(err instanceof Error ? err.message : String(err));
      deps.out.write(`[dstack] error: saving the checkpoints failed: ${message}\n`);
      reason = `${reason}; saving the checkpoints failed: ${message}`;
    }
  }
  return { status: "interrupted", reason: reason.slice(0, 2000), artifacts: [], checkpoints };
}
