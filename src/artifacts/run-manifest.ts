import { Readable } from "node:stream";
import { z } from "zod";
import { ArtifactNotFoundError, DstackError } from "../errors.js";
import { compareKeys, runArtifactsPrefix, runManifestKey } from "./keys.js";
import type { ArtifactStore } from "./types.js";

/** One file of a run's artifacts as the manifest records it; `sha256` (hex) when the agent reported it. */
export const ManifestFile = z.object({
  path: z.string().min(1),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

export const RunManifest = z.object({
  version: z.literal(1),
  runId: z.string(),
  /** When the manifest was written, ms since the epoch. */
  writtenAt: z.number(),
  files: z.array(ManifestFile),
});
export type RunManifest = z.infer<typeof RunManifest>;

/** The manifest is small: a bigger object is not one we wrote. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Commits a run's artifacts: checks that every reported file is in the store with its reported
 * size, then writes `runs/<id>/manifest.json` LAST. Readers trust only the manifest, so files of a
 * run whose upload failed half-way (or a retried part still landing) are never shown as its
 * artifacts. Throws a `DstackError` that says which file is missing or short.
 */
export async function commitRunManifest(
  deps: { artifacts: ArtifactStore; now?: () => number },
  runId: string,
  files: readonly ManifestFile[],
): Promise<RunManifest> {
  const prefix = runArtifactsPrefix(runId);
  const stored = new Map((await deps.artifacts.list(prefix)).map((o) => [o.key.slice(prefix.length), o.sizeBytes]));
  for (const f of files) {
    const size = stored.get(f.path);
    if (size === undefined) throw new DstackError("artifact_store", `${f.path} is not in the artifact store`);
    if (size !== f.sizeBytes) {
      throw new DstackError("artifact_store", `${f.path} has ${size} bytes in the artifact store, the runner sent ${f.sizeBytes}`);
    }
  }
  const manifest: RunManifest = {
    version: 1,
    runId,
    writtenAt: (deps.now ?? Date.now)(),
    files: [...files].sort((a, b) => compareKeys(a.path, b.path)),
  };
  const body = Buffer.from(JSON.stringify(manifest));
  await deps.artifacts.put(runManifestKey(runId), Readable.from([body]), { contentType: "application/json" });
  return manifest;
}

/** The run's manifest, or `undefined` when it has none (the run has not ended `done`, or its upload failed). */
export async function readRunManifest(deps: { artifacts: ArtifactStore }, runId: string): Promise<RunManifest | undefined> {
  let stream: Readable;
  try {
    stream = await deps.artifacts.get(runManifestKey(runId));
  } catch (err) {
    if (err instanceof ArtifactNotFoundError) return undefined;
    throw err;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_MANIFEST_BYTES) {
      stream.destroy();
      throw new DstackError("artifact_store", `the artifact manifest of run ${runId} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const parsed = RunManifest.safeParse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  if (!parsed.success || parsed.data.runId !== runId) {
    throw new DstackError("artifact_store", `the artifact manifest of run ${runId} is damaged`);
  }
  return parsed.data;
}

/** The artifact files readers may show: the manifest's, or none without one. */
export async function trustedArtifacts(deps: { artifacts: ArtifactStore }, runId: string): Promise<ManifestFile[]> {
  return (await readRunManifest(deps, runId))?.files ?? [];
}
