import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { createS3ArtifactStore } from "../../src/artifacts/s3-artifact-store.js";
import type { ArtifactStore } from "../../src/artifacts/types.js";
import { DstackError } from "../../src/errors.js";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";
import { describeArtifactStoreContract, MiB, readAll, stallingStream } from "./artifact-store-contract.js";

const BUCKET = "artifacts";

function s3Config(server: TestS3Server) {
  // No forcePathStyle: the store must turn it on because an endpoint is set.
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  };
}

function rawClient(server: TestS3Server): S3Client {
  return new S3Client({ ...s3Config(server), forcePathStyle: true });
}

async function pendingUploads(client: S3Client): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (out.Uploads ?? []).map((u) => u.Key ?? "?");
}

describeArtifactStoreContract("S3 store (s3rver behind an S3-faithful front)", async () => {
  const server = await startS3Server({ buckets: [BUCKET] });
  const store = createS3ArtifactStore({ bucket: BUCKET, prefix: "dstack/test", s3: s3Config(server) });
  const client = rawClient(server);
  return {
    store,
    leftovers: () => pendingUploads(client),
    async close() {
      await store.close();
      client.destroy();
      await server.close();
    },
  };
});

describe("S3 store specifics", () => {
  let server: TestS3Server;
  let client: S3Client;
  let store: ArtifactStore;

  beforeAll(async () => {
    server = await startS3Server({ buckets: [BUCKET] });
    client = rawClient(server);
    store = createS3ArtifactStore({ bucket: BUCKET, prefix: "/team-a/dstack/", s3: s3Config(server) });
  });
  afterAll(async () => {
    await store.close();
    await store.close();
    client.destroy();
    await server.close();
  });

  it("keeps objects under the configured prefix and lists keys relative to it", async () => {
    await store.put("runs/7/log.txt", Readable.from([Buffer.from("line 1\n")]), { contentType: "text/plain" });
    const raw = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "team-a/" }));
    expect(raw.Contents?.map((o) => o.Key)).toEqual(["team-a/dstack/runs/7/log.txt"]);
    const head = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: "team-a/dstack/runs/7/log.txt" }));
    expect(head.ContentType).toBe("text/plain");
    expect(await store.list("runs/")).toEqual([{ key: "runs/7/log.txt", sizeBytes: 7 }]);
  });

  it("presigns a download that saves under the given file name", async () => {
    await store.put("runs/7/artifacts/out/résumé \"v2\".txt", Readable.from([Buffer.from("hello")]));
    const url = await store.downloadUrl("runs/7/artifacts/out/résumé \"v2\".txt", {
      expiresInSeconds: 600,
      fileName: 'résumé "v2".txt',
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="r_sum_ _v2_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt`,
    );
    expect(await res.text()).toBe("hello");
  });

  it("clamps a download URL's lifetime to S3's 7-day limit", async () => {
    const url = new URL(await store.downloadUrl("runs/7/log.txt", { expiresInSeconds: 30 * 24 * 3600 }));
    expect(url.searchParams.get("X-Amz-Expires")).toBe("604800");
    expect((await fetch(url)).status).toBe(200);
  });

  it("names the bucket and the setting to fix when the bucket does not exist", async () => {
    const missing = createS3ArtifactStore({ bucket: "no-such-bucket", s3: s3Config(server) });
    const failure = missing.put("a.txt", Readable.from([Buffer.from("x")]));
    await expect(failure).rejects.toBeInstanceOf(DstackError);
    await expect(failure).rejects.toThrow(/s3:\/\/no-such-bucket\/a\.txt.*does not exist.*DSTACK_ARTIFACTS/);
    await missing.close();
  });

  it("leaves a client it was given open on close", async () => {
    const shared = rawClient(server);
    const borrowed = createS3ArtifactStore({ bucket: BUCKET, prefix: "shared", s3: shared });
    await borrowed.close();
    await shared.send(new PutObjectCommand({ Bucket: BUCKET, Key: "shared/still-open", Body: "ok" }));
    const back = await shared.send(new GetObjectCommand({ Bucket: BUCKET, Key: "shared/still-open" }));
    expect(await back.Body?.transformToString()).toBe("ok");
    shared.destroy();
  });

  it("aborts the multipart upload it had started when the put is aborted", async () => {
    const { stream, sent } = stallingStream(12 * MiB, "stall");
    const controller = new AbortController();
    const putting = store.put("runs/8/artifacts/big.bin", stream, { signal: controller.signal });
    await sent;
    // The first 8 MiB part makes a multipart upload; wait until S3 lists it.
    let pending: string[] = [];
    // A deadline, not a count of tries: on a loaded machine 100 quick listings can all come before the part.
    for (const deadline = Date.now() + 30_000; pending.length === 0 && Date.now() < deadline; ) {
      pending = await pendingUploads(client);
      if (pending.length === 0) await sleep(20);
    }
    expect(pending).toEqual(["team-a/dstack/runs/8/artifacts/big.bin"]);
    controller.abort(new Error("stop"));
    await expect(putting).rejects.toThrow("stop");
    expect(await pendingUploads(client)).toEqual([]);
  });

  it("reads back what another writer streamed with the SDK's aws-chunked encoding", async () => {
    // A Readable body of known length is sent aws-chunked with a trailing checksum.
    const body = Readable.from([Buffer.from("first chunk;"), Buffer.from(" second chunk")]);
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "team-a/dstack/external.txt", Body: body, ContentLength: 25 }),
    );
    expect((await readAll(await store.get("external.txt"))).toString()).toBe("first chunk; second chunk");
  });
});
