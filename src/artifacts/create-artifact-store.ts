import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { fileURLToPath } from "node:url";
import { InvalidInputError } from "../errors.js";
import { createFileArtifactStore } from "./file-artifact-store.js";
import { assertSafePrefix } from "./keys.js";
import { createS3ArtifactStore } from "./s3-artifact-store.js";
import type { S3RetryOptions } from "./s3-retry-strategy.js";
import type { ArtifactStore } from "./types.js";

export interface CreateArtifactStoreDeps {
  /** Base URL of this service (`DSTACK_PUBLIC_URL`), for file-mode download links. */
  publicUrl: string;
  /** HMAC key for file-mode download links, at least 32 bytes. */
  signingKey: Buffer;
  /** S3 client settings (region, endpoint, credentials); default: the SDK's own from the environment. */
  s3Config?: S3ClientConfig;
  /** How S3 requests are retried (default: see `createS3RetryStrategy`). */
  s3Retry?: S3RetryOptions;
}

const ACCEPTED = "accepted: `s3://bucket/prefix` or `file:///absolute/path`";

function invalid(url: string, why: string): InvalidInputError {
  return new InvalidInputError(`DSTACK_ARTIFACTS=${JSON.stringify(url)} ${why}; ${ACCEPTED}`);
}

/** S3's bucket naming rules, in short: 3-63 of `a-z 0-9 . -`, starting and ending alphanumeric. */
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The store that `DSTACK_ARTIFACTS` names. */
export function createArtifactStore(url: string, deps: CreateArtifactStoreDeps): ArtifactStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, "is not a URL");
  }
  if (parsed.search !== "" || parsed.hash !== "" || parsed.username !== "" || parsed.password !== "") {
    throw invalid(url, "has a query, fragment or credentials");
  }
  switch (parsed.protocol) {
    case "s3:": {
      // From the text, not `parsed`: URL parsing resolves `..` segments away.
      const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
      const bucket = match?.[1] ?? "";
      if (!BUCKET_PATTERN.test(bucket)) {
        throw invalid(url, `does not name a valid bucket (${JSON.stringify(bucket)})`);
      }
      let prefix: string;
      try {
        prefix = decodeURIComponent(match?.[2] ?? "").replace(/^\/+|\/+$/g, "");
        assertSafePrefix(prefix);
      } catch (err) {
        throw invalid(url, `has an unusable prefix (${err instanceof Error ? err.message : String(err)})`);
      }
      return createS3ArtifactStore({ bucket, prefix, s3: deps.s3Config ?? {}, retry: deps.s3Retry });
    }
    case "file:": {
      if (parsed.host !== "") {
        throw invalid(url, `is not absolute (it has the host ${JSON.stringify(parsed.host)}; use three slashes)`);
      }
      const root = fileURLToPath(parsed);
      return createFileArtifactStore({ root, publicUrl: deps.publicUrl, signingKey: deps.signingKey });
    }
    default:
      throw invalid(url, `has the unsupported scheme ${JSON.stringify(parsed.protocol)}`);
  }
}
