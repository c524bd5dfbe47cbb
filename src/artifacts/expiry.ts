import { InvalidInputError } from "../errors.js";

/** The longest a download URL may live: S3's limit on presigned URLs (7 days), kept by both stores. */
export const MAX_DOWNLOAD_URL_SECONDS = 604_800;

/** Whole seconds in `[1, MAX_DOWNLOAD_URL_SECONDS]`: longer asks are clamped, nonsense is refused. */
export function clampExpiresInSeconds(expiresInSeconds: number): number {
  if (!Number.isFinite(expiresInSeconds) || expiresInSeconds < 1) {
    throw new InvalidInputError(
      `download URL lifetime ${String(expiresInSeconds)} s is not a number of seconds of at least 1`,
    );
  }
  return Math.min(Math.floor(expiresInSeconds), MAX_DOWNLOAD_URL_SECONDS);
}
