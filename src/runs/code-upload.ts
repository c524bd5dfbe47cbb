import { randomBytes } from "node:crypto";
import { NotFoundError } from "../errors.js";
import type { ArtifactStore } from "../artifacts/index.js";
import { DEFAULT_UPLOAD_LIMITS } from "../artifacts/upload-limits.js";
import type { CodeSource } from "./code-source.js";

/**
 * Largest code upload (a working tree or the local changes, gzipped) the service accepts unless
 * DSTACK_MAX_CODE_UPLOAD_BYTES says otherwise. The CLI states this limit before it packs anything
 * (it cannot know a service's own), and shows the service's 413 when that one is lower.
 */
export const MAX_CODE_UPLOAD_BYTES = DEFAULT_UPLOAD_LIMITS.codeUploadBytes;

/** A fresh upload id: 16 lowercase hex characters. */
export function newUploadId(): string {
  return randomBytes(8).toString("hex");
}

export function isUploadId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}

/** `uploads/<id>/code.tar.gz`: where an uploaded tarball lives in the artifact store. */
export function uploadKey(id: string): string {
  if (!isUploadId(id)) throw new NotFoundError(`upload ${JSON.stringify(id)} does not exist`);
  return `uploads/${id}/code.tar.gz`;
}

/**
 * Code of runs submitted with an uploaded working tree: the tarball as the CLI packed it (paths
 * relative to the repository root, so nothing to strip).
 */
export function createUploadCodeSource(deps: { artifacts: ArtifactStore }): CodeSource {
  return {
    async open(run) {
      if (run.code.kind !== "upload") throw new NotFoundError(`run ${run.id} has no uploaded code`);
      return { stream: await deps.artifacts.get(run.code.key), strip: 0 };
    },
  };
}
