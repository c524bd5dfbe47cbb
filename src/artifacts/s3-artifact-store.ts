import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { pipeline, Readable, Transform } from "node:stream";
import { ArtifactNotFoundError, DstackError } from "../errors.js";
import { attachmentContentDisposition } from "./content-disposition.js";
import { clampExpiresInSeconds } from "./expiry.js";
import { assertSafeKey, assertSafePrefix, compareKeys } from "./keys.js";
import { describeS3Error, isS3NotFound } from "./s3-errors.js";
import { createS3RetryStrategy, type S3RetryOptions } from "./s3-retry-strategy.js";
import type { ArtifactObject, ArtifactStore, PutOptions } from "./types.js";

/** S3 accepts at most 1000 keys per `DeleteObjects` request. */
const DELETE_BATCH_SIZE = 1000;

export interface S3ArtifactStoreOptions {
  /** The bucket that holds the objects. */
  bucket: string;
  /** Key prefix inside the bucket, with or without slashes around it. Default: "" (the bucket's root). */
  prefix?: string;
  /**
   * A client to use (the caller owns it: `close()` leaves it open), or the configuration of one the
   * store creates and destroys on `close()`. With an `endpoint` (an S3-compatible server such as
   * MinIO) `forcePathStyle` defaults to `true`.
   */
  s3: S3Client | S3ClientConfig;
  /**
   * Multipart part size in bytes, at least 5 MiB. Default: 8 MiB. A put buffers about
   * `queueSize x partSizeBytes` of memory.
   */
  partSizeBytes?: number;
  /** Parts uploaded at once per put. Default: 4. */
  queueSize?: number;
  /**
   * Retries of each S3 request (a part, a small object, a listing) for a client the store creates
   * and whose config names no `retryStrategy`: see `createS3RetryStrategy` for the defaults.
   */
  retry?: S3RetryOptions;
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  assertSafePrefix(trimmed);
  return `${trimmed}/`;
}

function clientFrom(s3: S3Client | S3ClientConfig, retry: S3RetryOptions | undefined): { client: S3Client; owned: boolean } {
  if (s3 instanceof S3Client) return { client: s3, owned: false };
  // Path-style addressing: S3-compatible servers rarely have a DNS name per bucket.
  const forcePathStyle = s3.forcePathStyle ?? s3.endpoint !== undefined;
  const retryStrategy = s3.retryStrategy ?? createS3RetryStrategy(retry);
  return { client: new S3Client({ ...s3, forcePathStyle, retryStrategy }), owned: true };
}

/** An `ArtifactStore` in an S3 bucket (AWS or any S3-compatible server). */
export function createS3ArtifactStore(options: S3ArtifactStoreOptions): ArtifactStore {
  const { bucket } = options;
  const root = normalizePrefix(options.prefix);
  const partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
  const queueSize = options.queueSize ?? 4;
  const { client, owned } = clientFrom(options.s3, options.retry);
  let closed = false;

  const location = (key: string): string => `s3://${bucket}/${root}${key}`;

  /**
   * Makes sure a failed multipart upload leaves no parts behind (they are billed and invisible):
   * `Upload` aborts on failure, but while S3 is still failing its abort may fail too. Aborting again
   * an upload that is gone answers 404, which is what we want.
   */
  async function abortLeftover(key: string, uploadId: string | undefined): Promise<void> {
    if (uploadId === undefined) return;
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${root}${key}`, UploadId: uploadId })).catch((err: unknown) => {
      if (!isS3NotFound(err) && !(typeof err === "object" && err !== null && "name" in err && err.name === "NoSuchUpload")) throw err;
    });
  }

  async function listFull(prefix: string): Promise<ArtifactObject[]> {
    const objects: ArtifactObject[] = [];
    const pages = paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: `${root}${prefix}` });
    for await (const page of pages) {
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        objects.push({ key: item.Key.slice(root.length), sizeBytes: item.Size ?? 0 });
      }
    }
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  return {
    async put(key: string, body: Readable, putOptions: PutOptions = {}): Promise<ArtifactObject> {
      assertSafeKey(key);
      const { signal, contentType } = putOptions;
      signal?.throwIfAborted();
      let sizeBytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sizeBytes += chunk.length;
          callback(null, chunk);
        },
      });
      // A failure on either side destroys both streams; the upload sees it through `counter`,
      // so the callback has nothing left to do.
      pipeline(body, counter, () => undefined);
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: `${root}${key}`, Body: counter, ContentType: contentType },
        partSize,
        queueSize,
        leavePartsOnError: false,
      });
      // Upload's own abort() settles done() at once and leaves the multipart upload behind while
      // its part readers still wait on the body; failing the body instead makes every reader
      // stop, after which Upload sends AbortMultipartUpload and only then rejects done().
      const onAbort = (): void => {
        counter.destroy(signal?.reason instanceof Error ? signal.reason : new Error("put aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await upload.done();
      } catch (err) {
        const leftover = await abortLeftover(key, upload.uploadId).then(
          () => undefined,
          (abortErr: unknown) => abortErr,
        );
        if (signal?.aborted) throw signal.reason;
        const failed = describeS3Error(err, "upload to", location(key));
        if (leftover !== undefined) {
          failed.message += `; aborting the multipart upload ${upload.uploadId ?? ""} failed too, so its parts remain until a lifecycle rule removes them`;
        }
        throw failed;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        counter.destroy();
      }
      return { key, sizeBytes };
    },

    async get(key: string): Promise<Readable> {
      assertSafeKey(key);
      try {
        const output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${root}${key}` }));
        if (!(output.Body instanceof Readable)) {
          throw new DstackError("artifact_store", `S3 returned no readable body for ${location(key)}`);
        }
        return output.Body;
      } catch (err) {
        if (isS3NotFound(err)) throw new ArtifactNotFoundError(key);
        throw describeS3Error(err, "download of", location(key));
      }
    },

    async list(prefix: string): Promise<ArtifactObject[]> {
      assertSafePrefix(prefix);
      try {
        return await listFull(prefix);
      } catch (err) {
        throw describeS3Error(err, "listing of", location(prefix));
      }
    },

    async deletePrefix(prefix: string): Promise<void> {
      assertSafePrefix(prefix);
      try {
        const keys = (await listFull(prefix)).map((o) => `${root}${o.key}`);
        for (let start = 0; start < keys.length; start += DELETE_BATCH_SIZE) {
          const batch = keys.slice(start, start + DELETE_BATCH_SIZE);
          const output = await client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          // DeleteObjects answers 200 even when some keys could not be deleted.
          const first = output.Errors?.[0];
          if (first !== undefined) {
            throw new DstackError(
              "artifact_store",
              `S3 could not delete ${output.Errors?.length ?? 1} object(s) under ${location(prefix)}, ` +
                `first ${JSON.stringify(first.Key)}: ${first.Code ?? "error"} ${first.Message ?? ""}`.trimEnd(),
            );
          }
        }
      } catch (err) {
        throw describeS3Error(err, "deletion under", location(prefix));
      }
    },

    async downloadUrl(key: string, urlOptions: { expiresInSeconds: number; fileName?: string }): Promise<string> {
      assertSafeKey(key);
      const expiresIn = clampExpiresInSeconds(urlOptions.expiresInSeconds);
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: `${root}${key}`,
        ResponseContentDisposition:
          urlOptions.fileName === undefined ? undefined : attachmentContentDisposition(urlOptions.fileName),
      });
      return getSignedUrl(client, command, { expiresIn });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (owned) client.destroy();
    },
  };
}
