import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { mountAgentApi } from "../../src/api/agent-api.js";
import { createArtifactStore, runCheckpointKey, type ArtifactStore } from "../../src/artifacts/index.js";
import { Router } from "../../src/http/router.js";
import { createLogger } from "../../src/logger.js";
import type { CodeSource } from "../../src/runs/code-source.js";
import { LogStore } from "../../src/runs/log-store.js";
import { RunStore } from "../../src/runs/run-store.js";
import { SecretStore } from "../../src/runs/secret-store.js";
import { storeSecretsProvider } from "../../src/runs/secrets-provider.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { bashWorkflow } from "../helpers/seed-run.js";

/**
 * A run's agent token is the workflow's to read (it runs on the same machine), so the agent API
 * trusts it for that run only: never another run's checkpoints, never a path outside the run's
 * keys, and not at all once the run is concluded.
 */

const REPO = "acme/scope";
const SECRET = `sec_${randomBytes(12).toString("hex")}`;

let server: TestRedis;
let redis: Redis;
let dir: string;
let store: RunStore;
let logs: LogStore;
let artifacts: ArtifactStore;
let http: Server;
let url: string;

const code: CodeSource = {
  open: async () => ({ stream: Readable.from([Buffer.from("code")]), strip: 0 }),
};

beforeAll(async () => {
  server = await startRedis("agent-api-token-scope");
  redis = new Redis(server.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-agent-scope-"));
  store = new RunStore({ redis, prefix: server.prefix });
  logs = new LogStore({ redis, prefix: server.prefix, dir: path.join(dir, "logs") });
  artifacts = createArtifactStore(`file://${dir}/artifacts`, { publicUrl: "http://127.0.0.1", signingKey: randomBytes(32) });
  const secretStore = new SecretStore({ redis, prefix: server.prefix, key: randomBytes(32) });
  await secretStore.put(REPO, "API_KEY", SECRET);
  const router = new Router(createLogger({ level: "silent" }));
  mountAgentApi(router, { store, logs, artifacts, code, secrets: storeSecretsProvider(secretStore), maxRunMinutes: 10, heartbeatSeconds: 5 });
  http = createServer((req, res) => void router.handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise<void>((resolve) => http?.close(() => resolve()));
  await Promise.all([logs?.close(), artifacts?.close()]);
  redis?.disconnect();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A run of a one-line bash workflow, and its agent token. */
async function newRun(): Promise<{ id: string; token: string }> {
  const groupId = `g-${randomBytes(4).toString("hex")}`;
  const trigger = { kind: "api", actor: "api" } as const;
  const created = await store.create({ repo: REPO, workflow: bashWorkflow("w", ["echo"]), commit: "0".repeat(40), trigger, groupId, needs: [], inputs: [], code: { kind: "github" }, variables: {} });
  return { id: created.run.id, token: created.token };
}

/** A run with a saved checkpoint set of one file, `ck/state.bin`. */
async function runWithCheckpoint(body: string): Promise<{ id: string; token: string }> {
  const run = await newRun();
  await artifacts.put(runCheckpointKey(run.id, 1, "ck/state.bin"), Readable.from([Buffer.from(body)]));
  await store.update(run.id, { checkpoint: { attempt: 1, files: [{ path: "ck/state.bin", sizeBytes: body.length }], savedAt: Date.now() } });
  return run;
}

function call(runId: string, token: string, route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}/api/agent/v1/runs/${runId}${route}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });
}

describe("the agent API's token scope", () => {
  it("never serves one run's checkpoint to another run's token", async () => {
    const victim = await runWithCheckpoint("victim weights");
    const other = await runWithCheckpoint("other weights");
    const own = await call(victim.id, victim.token, "/checkpoint/file?path=ck%2Fstate.bin");
    expect({ status: own.status, body: await own.text() }).toEqual({ status: 200, body: "victim weights" });
    expect((await call(victim.id, other.token, "/checkpoint/file?path=ck%2Fstate.bin")).status).toBe(401);
    expect((await call(victim.id, other.token, "/job")).status).toBe(401);
    const climbing = `../../../${victim.id}/checkpoints/1/ck/state.bin`;
    expect((await call(other.id, other.token, `/checkpoint/file?path=${encodeURIComponent(climbing)}`)).status).toBe(404);
  });

  it("refuses checkpoint uploads whose path climbs out of the run's checkpoint set", async () => {
    const run = await newRun();
    await store.transition(run.id, "running", { patch: { startedAt: Date.now(), heartbeatAt: Date.now() } });
    for (const p of ["../escape.bin", "ck/../../x.bin", "/abs.bin", "a\\..\\b"]) {
      const res = await call(run.id, run.token, `/checkpoints?path=${encodeURIComponent(p)}`, { method: "PUT", body: "x" });
      expect({ p, status: res.status }).toEqual({ p, status: 400 });
    }
    expect(await artifacts.list("runs/")).not.toContainEqual(expect.objectContaining({ key: expect.stringContaining("escape") }));
  });

  it("refuses a concluded run's token everywhere: no secrets, no checkpoint, no log writes", async () => {
    const run = await runWithCheckpoint("weights");
    const job = await call(run.id, run.token, "/job");
    expect(job.status).toBe(200);
    expect(JSON.stringify(await job.json())).toContain(SECRET);
    await store.transition(run.id, "done", { patch: { exitCode: 0 } });
    await store.update(run.id, { concluded: true });
    const after = {
      job: (await call(run.id, run.token, "/job")).status,
      code: (await call(run.id, run.token, "/code")).status,
      checkpoint: (await call(run.id, run.token, "/checkpoint/file?path=ck%2Fstate.bin")).status,
      logs: (await call(run.id, run.token, "/logs", { method: "POST", headers: { "x-dstack-offset": "0" }, body: "forged line\n" })).status,
      finish: (await call(run.id, run.token, "/finish", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: "interrupted", artifacts: [] }) })).status,
    };
    expect(after).toEqual({ job: 401, code: 401, checkpoint: 401, logs: 401, finish: 401 });
    const ended = await store.get(run.id);
    expect({ status: ended.status, logBytes: ended.logBytes, interruption: ended.interruption }).toEqual({ status: "done", logBytes: 0, interruption: undefined });
  });
});
