export { attachmentContentDisposition } from "./content-disposition.js";
export { createArtifactStore, type CreateArtifactStoreDeps } from "./create-artifact-store.js";
export {
  DOWNLOAD_ROUTE_PATH,
  verifyDownloadSignature,
  type DownloadSignatureParams,
} from "./download-signature.js";
export { MAX_DOWNLOAD_URL_SECONDS } from "./expiry.js";
export { createFileArtifactStore, type FileArtifactStoreOptions } from "./file-artifact-store.js";
export { assertSafeKey, runArtifactKey, runArtifactsPrefix, runCheckpointKey, runLogKey, runManifestKey } from "./keys.js";
export { commitRunManifest, readRunManifest, trustedArtifacts, type ManifestFile, type RunManifest } from "./run-manifest.js";
export { createS3ArtifactStore, type S3ArtifactStoreOptions } from "./s3-artifact-store.js";
export type { ArtifactObject, ArtifactStore, PutOptions } from "./types.js";
