import type { Readable } from "node:stream";

/** One stored object. `key` is relative to the store's root (bucket prefix or folder). */
export interface ArtifactObject {
  key: string;
  sizeBytes: number;
}

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
}

/**
 * Where run artifacts and full logs live: S3 (any S3-compatible endpoint) or a local folder.
 * Keys are `/`-separated, never absolute, never containing `..`.
 */
export interface ArtifactStore {
  /** Streams `body` into the object `key` (multipart for S3), replacing any previous one. */
  put(key: string, body: Readable, options?: PutOptions): Promise<ArtifactObject>;
  /** Streams the object; rejects with `ArtifactNotFoundError` when it does not exist. */
  get(key: string): Promise<Readable>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ArtifactObject[]>;
  /** Deletes every object under `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A URL that downloads the bytes with no credential and expires after `expiresInSeconds`
   * (at most 7 days): a presigned S3 GET, or a signed route of this service in file mode.
   */
  downloadUrl(key: string, options: { expiresInSeconds: number; fileName?: string }): Promise<string>;
  close(): Promise<void>;
}
