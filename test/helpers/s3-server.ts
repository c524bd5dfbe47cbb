import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/**
 * A real S3-protocol server for tests: `s3rver` 3.7 behind a small `node:http` front that makes it
 * behave like S3 where the service depends on it:
 *
 * - **aws-chunked bodies.** The SDK streams uploads as `aws-chunked` with trailing checksums; S3
 *   decodes them, s3rver would store the chunk framing as the object. The front decodes them,
 *   checks the trailing checksum, and forwards the plain bytes.
 * - **Signature V4.** s3rver checks V2 signatures only and accepts any V4 one. The front checks V4
 *   header and query (presigned URL) signatures the way S3 does, so a tampered presigned URL is
 *   refused. It forwards the `Host` header unchanged: the client signed the front's address.
 *   (Per-chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` bodies are not checked.)
 * - **AbortMultipartUpload and ListMultipartUploads**, which s3rver 3.7 lacks, are served from
 *   s3rver's own upload folder, so a test can prove that a failed upload left no parts behind.
 *
 * Everything else is piped through untouched.
 */
export interface TestS3Server {
  /** `http://127.0.0.1:<port>`: give it to the SDK as `endpoint` with `forcePathStyle: true`. */
  endpoint: string;
  /** s3rver knows exactly one key pair. */
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Stops both servers and removes the data folder; safe to call twice. */
  close(): Promise<void>;
}

interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: S3rverOptions) => S3rverInstance;

// s3rver is CommonJS and ships no types: load it through require and describe what we use.
const require = createRequire(import.meta.url);
const S3rver = require("s3rver") as S3rverConstructor;

const ACCESS_KEY_ID = "S3RVER";
const SECRET_ACCESS_KEY = "S3RVER";
const REGION = "us-east-1";
/** s3rver keeps in-progress multipart uploads in `<dir>/<bucket>/._S3rver_uploads/<uploadId>/`. */
const UPLOADS_FOLDER = "._S3rver_uploads";

class S3ProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly s3Code: string,
    message: string,
  ) {
    super(message);
  }
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
  res.end(xml);
}

function sendError(res: ServerResponse, err: S3ProtocolError): void {
  sendXml(
    res,
    err.status,
    `<Error><Code>${xmlEscape(err.s3Code)}</Code><Message>${xmlEscape(err.message)}</Message></Error>`,
  );
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

// --- Signature V4 (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html)

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` escaped. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseQuery(rawQuery: string): [string, string][] {
  if (rawQuery === "") return [];
  return rawQuery.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

interface SignatureParts {
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string;
  payloadHash: string;
  /** Query parameters that take part in the canonical query (all but the signature). */
  query: [string, string][];
}

/** The signature parts of a V4-signed request, or `undefined` when it is not V4-signed. */
function signatureParts(req: IncomingMessage, query: [string, string][]): SignatureParts | undefined {
  const params = new Map(query);
  if (params.get("X-Amz-Algorithm") === "AWS4-HMAC-SHA256") {
    return {
      credential: params.get("X-Amz-Credential") ?? "",
      signedHeaders: params.get("X-Amz-SignedHeaders") ?? "",
      signature: params.get("X-Amz-Signature") ?? "",
      amzDate: params.get("X-Amz-Date") ?? "",
      payloadHash: params.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
      query: query.filter(([name]) => name !== "X-Amz-Signature"),
    };
  }
  const authorization = header(req.headers, "authorization");
  if (authorization === undefined || !authorization.startsWith("AWS4-HMAC-SHA256 ")) return undefined;
  const fields = new Map(
    authorization
      .slice("AWS4-HMAC-SHA256 ".length)
      .split(",")
      .map((field) => {
        const [name = "", ...rest] = field.trim().split("=");
        return [name, rest.join("=")] as const;
      }),
  );
  return {
    credential: fields.get("Credential") ?? "",
    signedHeaders: fields.get("SignedHeaders") ?? "",
    signature: fields.get("Signature") ?? "",
    amzDate: header(req.headers, "x-amz-date") ?? "",
    payloadHash: header(req.headers, "x-amz-content-sha256") ?? "",
    query,
  };
}

/** Throws `SignatureDoesNotMatch` unless a V4-signed request was signed with the server's key as received. */
function verifySignatureV4(req: IncomingMessage, rawPath: string, query: [string, string][]): void {
  const parts = signatureParts(req, query);
  if (parts === undefined) return;
  const [accessKeyId, date = "", region = "", service = "", terminator = ""] = parts.credential.split("/");
  if (accessKeyId !== ACCESS_KEY_ID) {
    throw new S3ProtocolError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist.");
  }
  const canonicalQuery = parts.query
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const signedHeaderNames = parts.signedHeaders.split(";");
  const canonicalHeaders = signedHeaderNames
    .map((name) => `${name}:${(header(req.headers, name) ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const canonicalRequest = [
    req.method ?? "GET",
    rawPath,
    canonicalQuery,
    canonicalHeaders,
    parts.signedHeaders,
    parts.payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/${terminator}`;
  const stringToSign = ["AWS4-HMAC-SHA256", parts.amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${SECRET_ACCESS_KEY}`, date), region), service), terminator);
  const expected = hmac(signingKey, stringToSign);
  const provided = Buffer.from(parts.signature, "hex");
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new S3ProtocolError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.",
    );
  }
}

// --- aws-chunked (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)

function isAwsChunked(headers: IncomingHttpHeaders): boolean {
  const encoding = header(headers, "content-encoding") ?? "";
  const sha = header(headers, "x-amz-content-sha256") ?? "";
  return encoding.split(",").some((e) => e.trim() === "aws-chunked") || sha.startsWith("STREAMING-");
}

/**
 * The payload and trailers of an aws-chunked body:
 * `<hex>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n\r\n`.
 */
function decodeAwsChunked(body: Buffer): { data: Buffer; trailers: Map<string, string> } {
  const chunks: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", pos);
    if (lineEnd < 0) {
      throw new S3ProtocolError(400, "IncompleteBody", "aws-chunked body ends inside a chunk header");
    }
    const sizeText = body.toString("latin1", pos, lineEnd).split(";", 1)[0] ?? "";
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) {
      throw new S3ProtocolError(400, "InvalidRequest", `bad aws-chunked chunk size ${JSON.stringify(sizeText)}`);
    }
    const size = Number.parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) break;
    if (pos + size + 2 > body.length || body.toString("latin1", pos + size, pos + size + 2) !== "\r\n") {
      throw new S3ProtocolError(400, "IncompleteBody", "aws-chunked body ends inside a chunk");
    }
    chunks.push(body.subarray(pos, pos + size));
    pos += size + 2;
  }
  const trailers = new Map<string, string>();
  for (const line of body.toString("latin1", pos).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { data: Buffer.concat(chunks), trailers };
}

/** Checks the checksums S3 checks (those Node can compute); a wrong one is `BadDigest`, as on S3. */
function checkChecksums(data: Buffer, sources: Map<string, string>): void {
  const computed: Record<string, () => string> = {
    "x-amz-checksum-crc32": () => {
      const sum = Buffer.alloc(4);
      sum.writeUInt32BE(crc32(data));
      return sum.toString("base64");
    },
    "x-amz-checksum-sha1": () => createHash("sha1").update(data).digest("base64"),
    "x-amz-checksum-sha256": () => createHash("sha256").update(data).digest("base64"),
  };
  for (const [name, compute] of Object.entries(computed)) {
    const claimed = sources.get(name);
    if (claimed !== undefined && claimed !== compute()) {
      throw new S3ProtocolError(400, "BadDigest", `The ${name} you specified did not match the calculated checksum.`);
    }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// --- the front

/**
 * Deletes one at a time and never beside a write. s3rver 3.7 removes a folder left empty by a
 * delete, and its putObject creates the folder, then opens the file with no error listener on that
 * stream: a delete between the two (a run's journal entry removed while another run's is written
 * beside it) threw ENOENT out of the test process ("Test suite failed to run", seen once in CI).
 * S3 has no folders, so it cannot happen there; writes still run side by side.
 */
function writeDeleteGate(): { shared(run: () => Promise<void>): Promise<void>; exclusive(run: () => Promise<void>): Promise<void> } {
  let writes = 0;
  let deleting: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  return {
    async shared(run) {
      while (deleting !== undefined) await deleting;
      writes++;
      try {
        await run();
      } finally {
        writes--;
        if (writes === 0) drained?.();
      }
    },
    async exclusive(run) {
      while (deleting !== undefined) await deleting;
      let release = () => undefined as void;
      deleting = new Promise<void>((resolve) => (release = resolve));
      try {
        while (writes > 0) await new Promise<void>((resolve) => (drained = resolve));
        drained = undefined;
        await run();
      } finally {
        deleting = undefined;
        release();
      }
    },
  };
}

/** Starts s3rver and its front on free ports of 127.0.0.1, with `buckets` created and empty. */
export async function startS3Server(options: { buckets: string[] }): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), "dstack-s3-"));
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  const upstream = await s3rver.run();
  const agent = new Agent({ keepAlive: true });

  async function listMultipartUploads(res: ServerResponse, bucket: string, prefix: string): Promise<void> {
    const bucketDir = join(directory, bucket);
    if (!(await stat(bucketDir).catch(() => undefined))?.isDirectory()) {
      throw new S3ProtocolError(404, "NoSuchBucket", "The specified bucket does not exist");
    }
    const uploadsDir = join(bucketDir, UPLOADS_FOLDER);
    const ids = await readdir(uploadsDir).catch(() => [] as string[]);
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of ids) {
      const key = await readFile(join(uploadsDir, id, "key"), "utf8").catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix)) continue;
      uploads.push({ key, id, initiated: (await stat(join(uploadsDir, id))).birthtime });
    }
    uploads.sort((a, b) => (a.key === b.key ? 0 : a.key < b.key ? -1 : 1));
    sendXml(
      res,
      200,
      `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Bucket>${xmlEscape(bucket)}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix>` +
        `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            (u) =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId>` +
              `<Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
          )
          .join("") +
        `</ListMultipartUploadsResult>`,
    );
  }

  async function abortMultipartUpload(res: ServerResponse, bucket: string, key: string, id: string): Promise<void> {
    const uploadDir = join(directory, bucket, UPLOADS_FOLDER, id);
    const storedKey = /^[0-9a-f]+$/.test(id)
      ? await readFile(join(uploadDir, "key"), "utf8").catch(() => undefined)
      : undefined;
    if (storedKey !== key) {
      throw new S3ProtocolError(404, "NoSuchUpload", "The specified multipart upload does not exist.");
    }
    await rm(uploadDir, { recursive: true, force: true });
    res.writeHead(204).end();
  }

  function forward(req: IncomingMessage, res: ServerResponse, headers: IncomingHttpHeaders, body?: Buffer): void {
    // The front already answered any `Expect: 100-continue`.
    const { expect: _expect, ...rest } = headers;
    const out = httpRequest(
      { host: "127.0.0.1", port: upstream.port, method: req.method, path: req.url, headers: rest, agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    out.on("error", (err) => {
      if (!res.headersSent) sendError(res, new S3ProtocolError(502, "InternalError", err.message));
      else res.destroy(err);
    });
    if (body === undefined) req.pipe(out);
    else out.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = parseQuery(q < 0 ? "" : url.slice(q + 1));
    verifySignatureV4(req, rawPath, query);

    const [bucket = "", ...keyParts] = rawPath.slice(1).split("/").map(decodeURIComponent);
    const key = keyParts.join("/");
    const params = new Map(query);
    if (req.method === "GET" && key === "" && params.has("uploads")) {
      return listMultipartUploads(res, bucket, params.get("prefix") ?? "");
    }
    const uploadId = params.get("uploadId");
    if (req.method === "DELETE" && key !== "" && uploadId !== undefined) {
      return abortMultipartUpload(res, bucket, key, uploadId);
    }
    if (!isAwsChunked(req.headers)) return forward(req, res, req.headers);

    const { data, trailers } = decodeAwsChunked(await readBody(req));
    const declared = header(req.headers, "x-amz-decoded-content-length");
    if (declared !== undefined && Number(declared) !== data.length) {
      throw new S3ProtocolError(400, "IncompleteBody", `decoded ${data.length} bytes, expected ${declared}`);
    }
    const claimed = new Map(trailers);
    for (const name of ["x-amz-checksum-crc32", "x-amz-checksum-sha1", "x-amz-checksum-sha256"]) {
      const value = header(req.headers, name);
      if (value !== undefined) claimed.set(name, value);
    }
    checkChecksums(data, claimed);
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers["x-amz-decoded-content-length"];
    delete headers["x-amz-trailer"];
    delete headers["transfer-encoding"];
    const encodings = (header(headers, "content-encoding") ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "" && e !== "aws-chunked");
    if (encodings.length === 0) delete headers["content-encoding"];
    else headers["content-encoding"] = encodings.join(",");
    headers["content-length"] = String(data.length);
    headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    forward(req, res, headers, data);
  }

  /** `handle`, with the front's own errors as S3 error answers (a reset once the answer has started). */
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await handle(req, res).catch((err: unknown) => {
      const error =
        err instanceof S3ProtocolError
          ? err
          : new S3ProtocolError(500, "InternalError", err instanceof Error ? err.message : String(err));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain what the client still sends so it reads the error instead of a reset connection.
      req.resume();
      sendError(res, error);
    });
  }

  const gate = writeDeleteGate();
  const front = createServer((req, res) => {
    const deleting = req.method === "DELETE" || (req.method === "POST" && /[?&]delete(=|&|$)/.test(req.url ?? ""));
    const writing = req.method === "PUT" || req.method === "POST";
    // A request holds its place in the gate until its answer is sent or its connection is gone.
    const served = async () => {
      await serve(req, res);
      if (!res.writableFinished && !res.destroyed) await new Promise<void>((resolve) => res.once("close", () => resolve()));
    };
    if (deleting) void gate.exclusive(served);
    else if (writing) void gate.shared(served);
    else void served();
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = front.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    region: REGION,
    close() {
      closing ??= (async () => {
        front.closeAllConnections();
        await new Promise<void>((resolve) => front.close(() => resolve()));
        agent.destroy();
        await s3rver.close();
        await rm(directory, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
