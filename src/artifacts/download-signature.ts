import { createHmac, timingSafeEqual } from "node:crypto";

/** The route of this service that serves file-mode downloads; the server mounts it, the file store links to it. */
export const DOWNLOAD_ROUTE_PATH = "/artifacts/download";

/** The query of a download URL, as `URLSearchParams.get` returns it (missing: `null`). */
export interface DownloadSignatureParams {
  key: string | null | undefined;
  /** Unix time in seconds after which the URL is refused. */
  expires: string | number | null | undefined;
  /** base64url HMAC-SHA256 of `key + "\n" + expires`. */
  sig: string | null | undefined;
}

const SIGNATURE_BYTES = 32;
/** 32 bytes in unpadded base64url. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES_PATTERN = /^[0-9]{1,15}$/;

function mac(key: string, expires: number, signingKey: Buffer): Buffer {
  return createHmac("sha256", signingKey).update(`${key}\n${expires}`, "utf8").digest();
}

/** The `sig` query value for `key` and `expires` (unix seconds). */
export function signDownload(key: string, expires: number, signingKey: Buffer): string {
  return mac(key, expires, signingKey).toString("base64url");
}

/**
 * Whether a file-mode download URL is genuine and unexpired at `nowMs`: false when a parameter is
 * missing or malformed, when `expires` has passed, or when `sig` does not match (compared in
 * constant time). The caller still passes `key` through `store.get`, which refuses unsafe keys.
 */
export function verifyDownloadSignature(
  params: DownloadSignatureParams,
  signingKey: Buffer,
  nowMs: number,
): boolean {
  const { key, expires, sig } = params;
  if (typeof key !== "string" || key === "" || typeof sig !== "string" || !SIGNATURE_PATTERN.test(sig)) {
    return false;
  }
  let expiresS: number;
  if (typeof expires === "number") {
    if (!Number.isSafeInteger(expires) || expires < 0) return false;
    expiresS = expires;
  } else if (typeof expires === "string" && EXPIRES_PATTERN.test(expires)) {
    expiresS = Number(expires);
  } else {
    return false;
  }
  if (nowMs >= expiresS * 1000) return false;
  const provided = Buffer.from(sig, "base64url");
  // The pattern admits 43 characters whose last one carries spare bits; decode-then-compare alone
  // would accept several spellings of one signature, so require the canonical one too.
  if (provided.length !== SIGNATURE_BYTES || provided.toString("base64url") !== sig) return false;
  return timingSafeEqual(provided, mac(key, expiresS, signingKey));
}
