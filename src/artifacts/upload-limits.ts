import { formatBytes } from "../runs/run-view.js";

/**
 * How much the runner agent and the CLI may upload, in bytes. Without bounds a runaway workflow
 * (a 2 TB artifact) or a hostile run token fills the service's disk (file store) or the bucket.
 */
export interface UploadLimits {
  /** One artifact file (`DSTACK_MAX_ARTIFACT_BYTES`). Default 20 GiB. */
  artifactFileBytes: number;
  /** All the artifact files of one run (`DSTACK_MAX_RUN_ARTIFACT_BYTES`). Default 100 GiB. */
  runArtifactBytes: number;
  /** The checkpoint set one attempt saves, all its files (`DSTACK_MAX_CHECKPOINT_BYTES`). Default 50 GiB. */
  checkpointBytes: number;
  /** One code upload of `dstack run`, the gzipped working tree or local changes (`DSTACK_MAX_CODE_UPLOAD_BYTES`). Default 100 MiB. */
  codeUploadBytes: number;
}

const GIB = 1024 ** 3;

export const DEFAULT_UPLOAD_LIMITS: Readonly<UploadLimits> = Object.freeze({
  artifactFileBytes: 20 * GIB,
  runArtifactBytes: 100 * GIB,
  checkpointBytes: 50 * GIB,
  codeUploadBytes: 100 * 1024 * 1024,
});

/** The variable that sets each limit: every refusal names it, so whoever reads it knows what to change. */
export const UPLOAD_LIMIT_VARIABLES: Readonly<Record<keyof UploadLimits, string>> = Object.freeze({
  artifactFileBytes: "DSTACK_MAX_ARTIFACT_BYTES",
  runArtifactBytes: "DSTACK_MAX_RUN_ARTIFACT_BYTES",
  checkpointBytes: "DSTACK_MAX_CHECKPOINT_BYTES",
  codeUploadBytes: "DSTACK_MAX_CODE_UPLOAD_BYTES",
});

export type UploadKind = "artifact" | "checkpoint";

/** The two bounds one kind of agent upload has: each file, and all the files together. */
export interface KindLimit {
  /** `artifact` or `checkpoint file`: how a refusal names the file. */
  noun: string;
  fileBytes: number;
  fileVariable: string;
  totalBytes: number;
  totalVariable: string;
  /** What the files add up to: `the run's artifacts`. */
  totalLabel: string;
}

/** The limits of artifact or checkpoint uploads. A checkpoint set has one bound, which holds for each of its files too. */
export function kindLimit(limits: Pick<UploadLimits, "artifactFileBytes" | "runArtifactBytes" | "checkpointBytes">, kind: UploadKind): KindLimit {
  if (kind === "checkpoint") {
    const variable = UPLOAD_LIMIT_VARIABLES.checkpointBytes;
    return { noun: "checkpoint file", fileBytes: limits.checkpointBytes, fileVariable: variable, totalBytes: limits.checkpointBytes, totalVariable: variable, totalLabel: "the attempt's checkpoint set" };
  }
  return {
    noun: "artifact",
    fileBytes: limits.artifactFileBytes,
    fileVariable: UPLOAD_LIMIT_VARIABLES.artifactFileBytes,
    totalBytes: limits.runArtifactBytes,
    totalVariable: UPLOAD_LIMIT_VARIABLES.runArtifactBytes,
    totalLabel: "the run's artifacts",
  };
}

/** `artifact out/model.bin is 2.0 TB, over the limit of 20 GB set by DSTACK_MAX_ARTIFACT_BYTES` (size unknown: "is over the limit ..."). */
export function fileOverLimit(limit: KindLimit, path: string, sizeBytes: number | undefined): string {
  const size = sizeBytes === undefined ? "" : ` ${formatBytes(sizeBytes)},`;
  return `${limit.noun} ${path} is${size} over the limit of ${formatBytes(limit.fileBytes)} set by ${limit.fileVariable}`;
}

/**
 * `artifact out/c.bin (30 GB) would bring the run's artifacts to 110 GB, over the limit of 100 GB set by
 * DSTACK_MAX_RUN_ARTIFACT_BYTES` (size unknown: "would bring the run's artifacts (80 GB so far) over ...").
 */
export function totalOverLimit(limit: KindLimit, path: string, sizeBytes: number | undefined, othersBytes: number): string {
  const brings =
    sizeBytes === undefined
      ? `would bring ${limit.totalLabel} (${formatBytes(othersBytes)} so far)`
      : `(${formatBytes(sizeBytes)}) would bring ${limit.totalLabel} to ${formatBytes(othersBytes + sizeBytes)},`;
  return `${limit.noun} ${path} ${brings} over the limit of ${formatBytes(limit.totalBytes)} set by ${limit.totalVariable}`;
}

/**
 * Splits `files` (in upload order) into those that fit `limit` and a refusal message for each of the
 * others: over the per-file bound, or past the total once the files before it are counted. Pure: the
 * agent checks before sending anything, so a 2 TB file is never read, let alone sent.
 */
export function withinLimit<F extends { rel: string; size: number }>(files: readonly F[], limit: KindLimit): { kept: F[]; refused: string[] } {
  const kept: F[] = [];
  const refused: string[] = [];
  let total = 0;
  for (const f of files) {
    if (f.size > limit.fileBytes) refused.push(fileOverLimit(limit, f.rel, f.size));
    else if (total + f.size > limit.totalBytes) refused.push(totalOverLimit(limit, f.rel, f.size, total));
    else {
      kept.push(f);
      total += f.size;
    }
  }
  return { kept, refused };
}
