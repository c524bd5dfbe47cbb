import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import { mountAgentApi } from "../../src/api/agent-api.js";
import { createArtifactStore, runArtifactsPrefix, type ArtifactStore } from "../../src/artifacts/index.js";
import { loadConfig } from "../../src/config.js";
import { Router } from "../../src/http/router.js";
import { createLogger } from "../../src/logger.js";
import { LogStore } from "../../src/runs/log-store.js";
import { RunStore } from "../../src/runs/run-store.js";
import { SecretStore } from "../../src/runs/secret-store.js";
import { storeSecretsProvider } from "../../src/runs/secrets-provider.js";
import { runCli } from "../cli/cli-process.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";
import { bashWorkflow } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * Upload limits (DSTACK_MAX_ARTIFACT_BYTES, DSTACK_MAX_RUN_ARTIFACT_BYTES, DSTACK_MAX_CHECKPOINT_BYTES,
 * DSTACK_MAX_CODE_UPLOAD_BYTES), set small here: the agent API answers 413 naming the variable and
 * keeps nothing of a refused file, in the file store and in S3 (no multipart upload left behind); a
 * run with an artifact over the limit fails with that reason and keeps its other artifacts; the CLI
 * shows the service's 413 for a code upload and exits non-zero.
 */

const MIB = 1024 * 1024;
const BUCKET = "limits";
const LIMITS = {
  DSTACK_MAX_ARTIFACT_BYTES: String(10 * MIB),
  DSTACK_MAX_RUN_ARTIFACT_BYTES: String(16 * MIB),
  DSTACK_MAX_CHECKPOINT_BYTES: String(MIB),
  DSTACK_MAX_CODE_UPLOAD_BYTES: String(64 * 1024),
};

const WORKFLOWS = `workflows:
  - name: oversized
    provider: bash
    commands:
      - mkdir -p out
      - echo "fits" > out/small.txt
      - head -c ${11 * MIB} /dev/zero > out/big.bin
      - echo "wrote the artifacts"
    artifacts: [out]
`;

/** The agent API alone over one store (no supervisor, so the runs made here wait for no agent). */
interface AgentApi {
  url: string;
  store: RunStore;
  artifacts: ArtifactStore;
  close(): Promise<void>;
}

let redis: TestRedis;
let client: Redis;
let s3: TestS3Server;
let direct: S3Client;
let dir: string;
let service: TestService;
const apis: Partial<Record<"file" | "s3", AgentApi>> = {};
let repo: string;
let configHome: string;

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, stdio: "ignore" });
}

/** A fresh Git working tree with an `origin` remote and `.dstack/workflows.yaml`, as `dstack run` finds it. */
async function workingTree(prefix: string): Promise<string> {
  const tree = await mkdtemp(path.join(os.tmpdir(), prefix));
  git(tree, "init", "-q", "-b", "main");
  git(tree, "remote", "add", "origin", "git@github.com:acme/limits.git");
  await mkdir(path.join(tree, ".dstack"));
  await writeFile(path.join(tree, ".dstack", "workflows.yaml"), WORKFLOWS);
  return tree;
}

async function startAgentApi(kind: "file" | "s3"): Promise<AgentApi> {
  const prefix = `${redis.prefix}:${kind}`;
  const s3Config = { endpoint: s3.endpoint, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
  const artifacts = createArtifactStore(kind === "s3" ? `s3://${BUCKET}/direct` : `file://${dir}/artifacts`, { publicUrl: "http://127.0.0.1", signingKey: randomBytes(32), s3Config });
  const store = new RunStore({ redis: client, prefix });
  const logs = new LogStore({ redis: client, prefix, dir: path.join(dir, `logs-${kind}`) });
  const secrets = storeSecretsProvider(new SecretStore({ redis: client, prefix, key: randomBytes(32) }));
  const router = new Router(createLogger({ level: "silent" }));
  // The limits as the service reads them from its environment.
  const { uploadLimits } = loadConfig(LIMITS);
  mountAgentApi(router, { store, logs, artifacts, code: { open: async () => ({ stream: Readable.from([]), strip: 0 }) }, secrets, maxRunMinutes: 10, heartbeatSeconds: 5, uploadLimits });
  const http: Server = createServer((req, res) => void router.handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    store,
    artifacts,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all([logs.close(), artifacts.close()]);
    },
  };
}

beforeAll(async () => {
  redis = await startRedis("upload-limits");
  client = new Redis(redis.url);
  s3 = await startS3Server({ buckets: [BUCKET] });
  direct = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-limits-"));
  apis.file = await startAgentApi("file");
  apis.s3 = await startAgentApi("s3");
  const s3Env = { DSTACK_ARTIFACTS: `s3://${BUCKET}/svc`, AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
  service = await startTestService({ redisUrl: redis.url, prefix: `${redis.prefix}:svc`, env: { ...LIMITS, ...s3Env } });
  repo = await workingTree("dstack-limits-repo-");
  configHome = await mkdtemp(path.join(os.tmpdir(), "dstack-limits-config-"));
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await apis.file?.close();
  await apis.s3?.close();
  direct?.destroy();
  client?.disconnect();
  await s3?.close();
  await redis?.stop();
  for (const d of [dir, repo, configHome]) if (d !== undefined) await rm(d, { recursive: true, force: true });
});

function api(kind: "file" | "s3"): AgentApi {
  const a = apis[kind];
  if (a === undefined) throw new Error(`the ${kind} agent API did not start`);
  return a;
}

/** A run waiting for its agent, and the agent's token. */
async function newRun(a: AgentApi): Promise<{ id: string; token: string }> {
  const trigger = { kind: "api", actor: "api" } as const;
  const created = await a.store.create({ repo: "acme/limits", workflow: bashWorkflow("w"), commit: "0".repeat(40), trigger, groupId: `g-${randomBytes(4).toString("hex")}`, needs: [], inputs: [], code: { kind: "github" }, variables: {} });
  return { id: created.run.id, token: created.token };
}

/** PUTs `body` as the agent does (a Buffer declares its length; a stream goes chunked). */
async function put(a: AgentApi, run: { id: string; token: string }, kind: "artifacts" | "checkpoints", rel: string, body: Buffer | Readable): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const res = await fetch(`${a.url}/api/agent/v1/runs/${run.id}/${kind}?path=${encodeURIComponent(rel)}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${run.token}`, "content-type": "application/octet-stream" },
    body: body as unknown as RequestInit["body"],
    duplex: "half",
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

/** `mib` MiB in 256 KiB chunks, as a stream with no declared length. */
function chunked(mib: number): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < mib * 4; i++) yield Buffer.alloc(256 * 1024, 1);
  })());
}

/** Everything a store holds under the run, and what is half-uploaded (S3's multipart uploads, the file store's incoming folder). */
async function leftovers(a: AgentApi, kind: "file" | "s3" | "svc", runId: string): Promise<{ objects: string[]; incomplete: number }> {
  const objects = (await a.artifacts.list(`runs/${runId}/`)).map((o) => o.key);
  if (kind !== "file") {
    const listed = await direct.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: `${kind === "s3" ? "direct" : "svc"}/runs/${runId}/` }));
    return { objects, incomplete: listed.Uploads?.length ?? 0 };
  }
  const incoming = await readdir(path.join(dir, "artifacts", ".dstack-incoming")).catch(() => []);
  return { objects, incomplete: incoming.length };
}

describe.each(["file", "s3"] as const)("agent uploads over the limits (%s store)", (kind) => {
  it("refuses a file whose declared length is over DSTACK_MAX_ARTIFACT_BYTES, with 413 and the variable named", async () => {
    const s = api(kind);
    const run = await newRun(s);
    const res = await put(s, run, "artifacts", "out/big.bin", Buffer.alloc(11 * MIB));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: "too_large", message: "artifact out/big.bin is 11 MB, over the limit of 10 MB set by DSTACK_MAX_ARTIFACT_BYTES" });
    expect(await leftovers(s, kind, run.id)).toEqual({ objects: [], incomplete: 0 });
  });

  it("stops a chunked upload once it passes the limit, and keeps nothing of it", async () => {
    const s = api(kind);
    const run = await newRun(s);
    // 12 MiB against 10: on S3 the first 8 MiB part is already uploaded when the limit trips.
    const res = await put(s, run, "artifacts", "out/stream.bin", chunked(12));
    expect(res.status).toBe(413);
    expect(res.body.message).toBe("artifact out/stream.bin is over the limit of 10 MB set by DSTACK_MAX_ARTIFACT_BYTES");
    expect(await leftovers(s, kind, run.id)).toEqual({ objects: [], incomplete: 0 });
    // The service still answers on a new connection (the refused one was closed, not left half-read).
    expect((await put(s, run, "artifacts", "out/ok.txt", Buffer.from("ok"))).status).toBe(200);
  });

  it("counts the run's files together against DSTACK_MAX_RUN_ARTIFACT_BYTES; a file sent again replaces its own count", async () => {
    const s = api(kind);
    const run = await newRun(s);
    const six = Buffer.alloc(6 * MIB, 2);
    expect((await put(s, run, "artifacts", "a.bin", six)).status).toBe(200);
    expect((await put(s, run, "artifacts", "b.bin", six)).status).toBe(200);
    const third = await put(s, run, "artifacts", "c.bin", six);
    expect(third.status).toBe(413);
    expect(third.body.message).toBe("artifact c.bin (6.0 MB) would bring the run's artifacts to 18 MB, over the limit of 16 MB set by DSTACK_MAX_RUN_ARTIFACT_BYTES");
    expect((await put(s, run, "artifacts", "a.bin", six)).status).toBe(200);
    expect((await leftovers(s, kind, run.id)).objects).toEqual([`${runArtifactsPrefix(run.id)}a.bin`, `${runArtifactsPrefix(run.id)}b.bin`]);
  });

  it("bounds one attempt's checkpoint set by DSTACK_MAX_CHECKPOINT_BYTES", async () => {
    const s = api(kind);
    const run = await newRun(s);
    const part = Buffer.alloc(700 * 1024, 3);
    expect((await put(s, run, "checkpoints", "ck/a.pt", part)).status).toBe(200);
    const second = await put(s, run, "checkpoints", "ck/b.pt", part);
    expect(second.status).toBe(413);
    expect(second.body.message).toBe("checkpoint file ck/b.pt (700 KB) would bring the attempt's checkpoint set to 1.4 MB, over the limit of 1.0 MB set by DSTACK_MAX_CHECKPOINT_BYTES");
  });
});

describe("a run with an artifact over the limit (agent, S3 store, CLI)", () => {
  const env = () => ({ DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome, NO_COLOR: "1" });

  it("fails with the limit as its reason, says so in the log, never sends the file and keeps the other artifacts", async () => {
    const res = await runCli(["run", "oversized", "-f"], repo, { env: env() });
    const message = "artifact out/big.bin is 11 MB, over the limit of 10 MB set by DSTACK_MAX_ARTIFACT_BYTES";
    expect(res.stdout).toContain(`[dstack] error: ${message}; it was not uploaded`);
    expect(res.code).not.toBe(0);
    const id = /run ([a-z0-9]+) \(oversized\) submitted/.exec(res.stderr)?.[1] ?? "";
    const run = await service.store.get(id);
    expect(run.status).toBe("failed");
    expect(run.reason).toBe(message);
    const list = await runCli(["artifacts", "list", id, "--json"], repo, { env: env() });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([{ path: "out/small.txt", sizeBytes: 5 }]);
    expect((await leftovers(service, "svc", id)).objects.filter((k) => k.includes("big.bin"))).toEqual([]);
  }, 60_000);

  it("shows the service's 413 for a code upload over DSTACK_MAX_CODE_UPLOAD_BYTES and exits non-zero, keeping nothing", async () => {
    const big = await workingTree("dstack-limits-big-");
    try {
      // Random bytes do not compress: the gzipped tree is over 64 KiB, far under the CLI's own 100 MiB check.
      await writeFile(path.join(big, "data.bin"), randomBytes(200 * 1024));
      const uploadsBefore = (await service.artifacts.list("uploads/")).length;
      const res = await runCli(["run", "oversized"], big, { env: env() });
      expect(res.code).not.toBe(0);
      expect(res.stderr.trim().split("\n").at(-1)).toMatch(
        /^dstack: the upload is 20\d KB, over the limit of 64 KB set by DSTACK_MAX_CODE_UPLOAD_BYTES on the service; leave big files out with \.gitignore$/,
      );
      expect((await service.artifacts.list("uploads/")).length).toBe(uploadsBefore);
    } finally {
      await rm(big, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("a code upload over the limit (file store, as `npm start` has)", () => {
  it("answers 413 to a chunked code upload over DSTACK_MAX_CODE_UPLOAD_BYTES and goes on serving", async () => {
    // A body past the limit in its first read trips it before the file store reads the body: that used to end the service.
    const local = await startTestService({ redisUrl: redis.url, prefix: `${redis.prefix}:svc-file`, env: { ...LIMITS, DSTACK_MAX_CODE_UPLOAD_BYTES: "1024" } });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${local.url}/api/v1/uploads?repo=acme/limits`, {
          method: "POST",
          headers: { authorization: `Bearer ${local.keys.apiToken}`, "content-type": "application/gzip" },
          body: Readable.from([randomBytes(5000)]) as unknown as RequestInit["body"],
          duplex: "half",
        } as RequestInit);
        expect({ status: res.status, body: await res.json() }).toEqual({
          status: 413,
          body: { code: "too_large", message: "the upload is over the limit of 1.0 KB set by DSTACK_MAX_CODE_UPLOAD_BYTES on the service; leave big files out with .gitignore" },
        });
      }
      expect((await fetch(`${local.url}/healthz`)).status).toBe(200);
      expect(await local.artifacts.list("uploads/")).toEqual([]);
    } finally {
      await local.stop();
    }
  }, 30_000);
});
