import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { mountAgentApi } from "../../src/api/agent-api.js";
import { createArtifactStore, type ArtifactStore } from "../../src/artifacts/index.js";
import { Router } from "../../src/http/router.js";
import { createLogger } from "../../src/logger.js";
import type { CodeSource } from "../../src/runs/code-source.js";
import { LogStore } from "../../src/runs/log-store.js";
import { RunStore } from "../../src/runs/run-store.js";
import { SecretStore } from "../../src/runs/secret-store.js";
import { storeSecretsProvider } from "../../src/runs/secrets-provider.js";
import { loadWorkflows } from "../../src/workflow/index.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

/**
 * The service masks the agent's log requests again (defence in depth), as a stream whose carry-over
 * lives in Redis: a secret split across two requests is masked even when each request reaches a
 * different service process. Two routers on one Redis stand for two processes.
 */

const REPO = "acme/logs";
const TOKEN = `tok_${randomBytes(12).toString("hex")}`;

let server: TestRedis;
let redis: Redis;
let dir: string;
let store: RunStore;
let artifacts: ArtifactStore;
const processes: Array<{ http: Server; url: string; logs: LogStore }> = [];

const code: CodeSource = {
  open: async () => {
    throw new Error("no code in this test");
  },
};

beforeAll(async () => {
  server = await startRedis("agent-api-masking");
  redis = new Redis(server.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-agent-api-"));
  store = new RunStore({ redis, prefix: server.prefix });
  artifacts = createArtifactStore(`file://${dir}/artifacts`, { publicUrl: "http://127.0.0.1", signingKey: randomBytes(32) });
  const secretStore = new SecretStore({ redis, prefix: server.prefix, key: randomBytes(32) });
  await secretStore.put(REPO, "TOKEN", TOKEN);
  const log = createLogger({ level: "silent" });
  for (let i = 0; i < 2; i++) {
    const logs = new LogStore({ redis, prefix: server.prefix, dir: path.join(dir, "logs") });
    const router = new Router(log);
    mountAgentApi(router, { store, logs, artifacts, code, secrets: storeSecretsProvider(secretStore), maxRunMinutes: 10, heartbeatSeconds: 5 });
    const http = createServer((req, res) => void router.handle(req, res));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    processes.push({ http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, logs });
  }
});

afterAll(async () => {
  for (const p of processes) {
    await new Promise<void>((resolve) => p.http.close(() => resolve()));
    await p.logs.close();
  }
  await artifacts?.close();
  redis?.disconnect();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function newRun(): Promise<{ id: string; token: string }> {
  const { workflows } = loadWorkflows([{ path: ".dstack/workflows.yaml", text: "workflows:\n  - name: w\n    provider: bash\n    commands: [echo]\n" }]);
  const workflow = workflows[0];
  if (workflow === undefined) throw new Error("the test workflow did not load");
  const { run, token } = await store.create({
    repo: REPO,
    workflow,
    commit: "0".repeat(40),
    trigger: { kind: "api", actor: "api" },
    groupId: `g-${randomBytes(4).toString("hex")}`,
    needs: [],
    inputs: [],
    code: { kind: "github" },
    variables: {},
  });
  return { id: run.id, token };
}

async function post(processIndex: number, run: { id: string; token: string }, route: string, body: Buffer | string, headers: Record<string, string> = {}) {
  const res = await fetch(`${processes[processIndex]?.url}/api/agent/v1/runs/${run.id}${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${run.token}`, ...headers },
    body,
  });
  expect(res.status).toBe(200);
  return res.json() as Promise<unknown>;
}

async function sendLog(processIndex: number, run: { id: string; token: string }, offset: number, text: string): Promise<void> {
  await post(processIndex, run, "/logs", Buffer.from(text), { "content-type": "application/octet-stream", "x-dstack-offset": String(offset) });
}

async function storedLog(id: string): Promise<string> {
  return (await processes[0]?.logs.tail(id, 1 << 20))?.data.toString() ?? "";
}

describe("the agent API's log masking", () => {
  it("masks a secret split across two log requests that reach different service processes", async () => {
    const run = await newRun();
    const first = `step 1\nexport TOKEN=${TOKEN.slice(0, 11)}`;
    await sendLog(0, run, 0, first);
    // Only what cannot start the secret is stored yet.
    expect(await storedLog(run.id)).toBe("step 1\nexport TOKEN=");
    const second = `${TOKEN.slice(11)} done\n`;
    await sendLog(1, run, Buffer.byteLength(first), second);
    expect(await storedLog(run.id)).toBe("step 1\nexport TOKEN=*** done\n");
    // A retried request is not masked or stored twice.
    await sendLog(0, run, Buffer.byteLength(first), second);
    expect(await storedLog(run.id)).toBe("step 1\nexport TOKEN=*** done\n");
    expect((await store.get(run.id)).logBytes).toBe(Buffer.byteLength("step 1\nexport TOKEN=*** done\n"));
  });

  it("stores a held-back prefix that never completes when the run finishes", async () => {
    const run = await newRun();
    await sendLog(1, run, 0, `partial ${TOKEN.slice(0, 6)}`);
    expect(await storedLog(run.id)).toBe("partial ");
    await post(0, run, "/finish", JSON.stringify({ status: "failed", exitCode: 1, artifacts: [] }), { "content-type": "application/json" });
    expect(await storedLog(run.id)).toBe(`partial ${TOKEN.slice(0, 6)}`);
    const finished = await store.get(run.id);
    expect(finished.status).toBe("failed");
    expect(finished.logBytes).toBe(Buffer.byteLength(`partial ${TOKEN.slice(0, 6)}`));
  });

  it("refuses an artifact whose path holds a secret without repeating it, and masks a finish report's reason and paths (an agent that did not)", async () => {
    const run = await newRun();
    const put = await fetch(`${processes[0]?.url}/api/agent/v1/runs/${run.id}/artifacts?path=${encodeURIComponent(`out/${TOKEN}.txt`)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${run.token}`, "content-type": "application/octet-stream" },
      body: "x",
    });
    const refusal = await put.text();
    expect({ status: put.status, leaks: refusal.includes(TOKEN) }).toEqual({ status: 400, leaks: false });
    expect(refusal).toContain("contains a secret value");
    expect(await artifacts.list(`runs/${run.id}/`)).toEqual([]);
    const report = { status: "failed", exitCode: 1, reason: `cannot log in with ${TOKEN}`, artifacts: [{ path: `out/${TOKEN}.txt`, sizeBytes: 1 }] };
    await post(1, run, "/finish", JSON.stringify(report), { "content-type": "application/json" });
    const finished = await store.get(run.id);
    expect({ reason: finished.reason, artifacts: finished.artifacts }).toEqual({ reason: "cannot log in with ***", artifacts: [{ path: "out/***.txt", sizeBytes: 1 }] });
  });
});
