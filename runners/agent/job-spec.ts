import { z } from "zod";

/**
 * What the service hands the runner agent for one run (`GET /api/agent/v1/runs/{id}/job`).
 * Validated on the agent side: the agent trusts nothing it did not check.
 */
export const JobSpec = z.object({
  runId: z.string(),
  repo: z.string(),
  commit: z.string(),
  workflow: z.object({
    name: z.string(),
    provider: z.string(),
    file: z.string().optional(),
    args: z.array(z.string()),
    requirements: z.string().optional(),
    version: z.string().optional(),
    commands: z.array(z.string()),
    setup: z.array(z.string()),
    image: z.string().optional(),
    url: z.string().optional(),
    output: z.string().optional(),
    workingDir: z.string().optional(),
    artifacts: z.array(z.object({ path: z.string(), mount: z.boolean() })),
    /** `checkpoints:` paths, saved to the run's checkpoint set when a spot instance is interrupted. */
    checkpoints: z.array(z.string()).optional(),
  }),
  /** The checkpoint set of an earlier, interrupted attempt: placed in the working dir before the workflow starts. */
  restoreCheckpoint: z.object({ attempt: z.number().int().min(1), files: z.array(z.object({ path: z.string(), sizeBytes: z.number() })) }).optional(),
  /** Environment for the workflow: workflow env, variables and (unless a fork PR) secrets. */
  env: z.record(z.string(), z.string()),
  /** Values to mask in the agent's own output (the service masks too). */
  secrets: z.array(z.string()),
  /** Runs whose artifacts go into the working dir before the workflow starts. */
  inputs: z.array(z.object({ runId: z.string(), workflow: z.string() })),
  /** Leading path components to strip from the code tarball (1 for GitHub's tarballs). */
  codeStrip: z.number().int().min(0),
  /** Local changes from `dstack run` to lay over the code (`GET /code/overlay`), and files deleted locally. */
  codeOverlay: z.object({ deleted: z.array(z.string()) }).optional(),
  maxRunMinutes: z.number().positive(),
  heartbeatSeconds: z.number().positive(),
  /**
   * The service's upload limits (DSTACK_MAX_ARTIFACT_BYTES, DSTACK_MAX_RUN_ARTIFACT_BYTES,
   * DSTACK_MAX_CHECKPOINT_BYTES): the agent checks its files against them before sending any, so a
   * runaway artifact is named in the log and never read. The service enforces them either way.
   */
  uploadLimits: z.object({ artifactFileBytes: z.number().int().positive(), runArtifactBytes: z.number().int().positive(), checkpointBytes: z.number().int().positive() }).optional(),
  /** The GPUs the run asked for (`resources.gpu`): an agent that checks GPUs compares them with nvidia-smi. */
  gpu: z.object({ count: z.number().int().min(0), name: z.string().optional(), memoryMiB: z.number().optional() }).optional(),
});
export type JobSpec = z.infer<typeof JobSpec>;

export const HeartbeatReply = z.object({ stop: z.boolean(), reason: z.string().optional() });
export type HeartbeatReply = z.infer<typeof HeartbeatReply>;

export const FinishReport = z.object({
  /**
   * `done` when the workflow exited 0 and artifacts were uploaded; `interrupted` when a spot
   * interruption notice stopped it (`checkpoints` then lists the checkpoint files saved).
   */
  status: z.enum(["done", "failed", "stopped", "interrupted"]),
  exitCode: z.number().int().optional(),
  reason: z.string().max(2000).optional(),
  /** Every uploaded file; `sha256` (hex) is what the agent read and the service confirmed it stored. */
  artifacts: z.array(z.object({ path: z.string(), sizeBytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() })),
  checkpoints: z.array(z.object({ path: z.string(), sizeBytes: z.number().int().min(0) })).optional(),
});
export type FinishReport = z.infer<typeof FinishReport>;

/** `POST /interruption`: the spot interruption notice, as soon as the agent sees it. */
export const InterruptionNotice = z.object({ actionAt: z.string().max(100).optional() });
export type InterruptionNotice = z.infer<typeof InterruptionNotice>;

export const InputFiles = z.object({ files: z.array(z.object({ path: z.string(), sizeBytes: z.number() })) });
