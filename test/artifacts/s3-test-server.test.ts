import { S3Client, DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { request } from "node:http";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";

/** Sends one raw request and returns status and body text. */
function raw(url: string, init: { method: string; headers: Record<string, string>; body: Buffer }) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

function crc32Base64(data: Buffer): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(data));
  return sum.toString("base64");
}

function awsChunked(parts: Buffer[], trailer: string): Buffer {
  const framed = parts.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]));
  return Buffer.concat([...framed, Buffer.from(`0\r\n${trailer}\r\n\r\n`)]);
}

describe("test S3 server (s3rver behind a decoding, signature-checking front)", () => {
  let server: TestS3Server;
  let client: S3Client;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ["b"] });
    client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
    await server.close();
  });

  it("stores the decoded bytes of an aws-chunked upload, not its framing", async () => {
    const data = [Buffer.from("hello, "), Buffer.from("chunked world")];
    const whole = Buffer.concat(data);
    const res = await raw(`${server.endpoint}/b/raw.txt`, {
      method: "PUT",
      headers: {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": String(whole.length),
        "x-amz-trailer": "x-amz-checksum-crc32",
      },
      body: awsChunked(data, `x-amz-checksum-crc32:${crc32Base64(whole)}`),
    });
    expect(res.status).toBe(200);
    const back = await client.send(new GetObjectCommand({ Bucket: "b", Key: "raw.txt" }));
    expect(await back.Body?.transformToString()).toBe("hello, chunked world");
    expect(back.ContentEncoding).toBeUndefined();
  });

  it("refuses an aws-chunked upload whose trailing checksum is wrong, as S3 does", async () => {
    const data = [Buffer.from("payload")];
    const res = await raw(`${server.endpoint}/b/corrupt.txt`, {
      method: "PUT",
      headers: {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": "7",
      },
      body: awsChunked(data, `x-amz-checksum-crc32:${crc32Base64(Buffer.from("other"))}`),
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("BadDigest");
  });

  it("round-trips an SDK streamed put and serves it through a presigned GET (Host kept end to end)", async () => {
    const body = Readable.from([Buffer.from("via sdk")]);
    await client.send(new PutObjectCommand({ Bucket: "b", Key: "dir/sdk.txt", Body: body, ContentLength: 7 }));
    const get = new GetObjectCommand({ Bucket: "b", Key: "dir/sdk.txt" });
    const url = await getSignedUrl(client, get, { expiresIn: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("via sdk");
  });

  it("refuses requests signed with the wrong secret", async () => {
    const wrong = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: "not-the-secret" },
    });
    await expect(wrong.send(new GetObjectCommand({ Bucket: "b", Key: "dir/sdk.txt" }))).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
    });
    const get = new GetObjectCommand({ Bucket: "b", Key: "dir/sdk.txt" });
    const url = await getSignedUrl(wrong, get, { expiresIn: 60 });
    expect((await fetch(url)).status).toBe(403);
    wrong.destroy();
  });

  it("survives a delete that empties a folder while a write into that folder is under way", async () => {
    // s3rver removes the emptied folder; a write between its mkdir and its open used to throw ENOENT
    // out of the process. Each round deletes the folder's only object and writes the next one.
    await client.send(new PutObjectCommand({ Bucket: "b", Key: "race/k0", Body: "0" }));
    for (let i = 0; i < 150; i++) {
      const [put] = await Promise.all([
        client.send(new PutObjectCommand({ Bucket: "b", Key: `race/k${i + 1}`, Body: String(i + 1) })),
        client.send(new DeleteObjectCommand({ Bucket: "b", Key: `race/k${i}` })),
      ]);
      expect(put.$metadata.httpStatusCode).toBe(200);
    }
    const last = await client.send(new GetObjectCommand({ Bucket: "b", Key: "race/k150" }));
    expect(await last.Body?.transformToString()).toBe("150");
  });
});
