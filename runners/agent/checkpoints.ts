import { formatBytes, placeFile } from "./artifacts.js";
import type { AgentClient } from "./client.js";
import type { JobSpec } from "./job-spec.js";
import type { Output } from "./python-env.js";

/**
 * Places the checkpoint set of the run's interrupted attempt at its paths in `cwd`, before the
 * workflow starts, so it goes on from there (`GET /checkpoint/file`, the set the service recorded).
 */
export async function restoreCheckpoint(
  deps: { client: AgentClient; out: Output },
  input: { cwd: string; checkpoint: NonNullable<JobSpec["restoreCheckpoint"]> },
): Promise<void> {
  const { attempt, files } = input.checkpoint;
  for (const f of files) {
    await placeFile(deps.client, input.cwd, f.path, `/checkpoint/file?path=${encodeURIComponent(f.path)}`, `checkpoint path ${f.path}`);
  }
  const total = files.reduce((s, f) => s + f.sizeBytes, 0);
  deps.out.write(`[dstack] restored ${files.length} checkpoint file(s), ${formatBytes(total)}, saved by attempt ${attempt} when it was interrupted\n`);
}
