import { S3ServiceException } from "@aws-sdk/client-s3";
import { DstackError } from "../errors.js";

/** S3 error names that mean "this object is not there" (`HeadObject` has no body, hence `NotFound`). */
export function isS3NotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === "NoSuchKey" || err.name === "NotFound" || err.$metadata.httpStatusCode === 404) &&
    err.name !== "NoSuchBucket"
  );
}

const CREDENTIAL_ERRORS = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "CredentialsProviderError",
]);

/**
 * Turns an SDK failure into a `DstackError` that names the bucket and what to check, keeping the
 * SDK error as `cause`; a `DstackError` passes through unchanged.
 */
export function describeS3Error(err: unknown, action: string, location: string): Error {
  if (err instanceof DstackError) return err;
  // By shape, not `instanceof Error`: errors from Node's own modules come from another realm under Jest.
  const name = typeof err === "object" && err !== null && "name" in err ? String(err.name) : "Error";
  const detail = typeof err === "object" && err !== null && "message" in err ? String(err.message) : String(err);
  let advice = "";
  if (name === "NoSuchBucket") {
    advice = ": the bucket does not exist; create it or fix DSTACK_ARTIFACTS";
  } else if (CREDENTIAL_ERRORS.has(name)) {
    advice =
      ": S3 refused the credentials; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the instance role) " +
      "and the bucket policy";
  } else if (err instanceof S3ServiceException) {
    advice = ` (${name})`;
  }
  return new DstackError("artifact_store", `S3 ${action} ${location} failed${advice}: ${detail}`, {
    cause: err,
  });
}
