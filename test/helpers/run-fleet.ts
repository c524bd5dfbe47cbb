import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { RunStore } from "../../src/runs/run-store.js";
import { startRedis, type TestRedis } from "./redis.js";
import { API_TOKEN, startServiceProcess, type ServiceProcess } from "./service-process.js";
import { submitRun, uploadWorkflows } from "./upload-tree.js";

/** The trivial workflow of the scale-out test and benchmark: one line naming its run. */
export const HELLO_WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - echo "hello from $DSTACK_RUN_ID"
`;

/** One web process and `workers` worker processes of the compiled service on one Redis (local backend, no GitHub). */
export interface Fleet {
  redis: TestRedis;
  store: RunStore;
  dataDir: string;
  web: ServiceProcess;
  workers: ServiceProcess[];
  /** Submits `count` runs of `hello` through the API, `inFlight` at a time; returns their ids in order. */
  submit(count: number, inFlight?: number): Promise<string[]>;
  /** Resolves when no run is left unconcluded, polling Redis; rejects after `timeoutMs`. */
  allConcluded(timeoutMs: number, onProgress?: (concludedSoFar: number) => void): Promise<void>;
  close(): Promise<void>;
}

export async function startFleet(options: { name: string; workers: number; maxRuns: number; env?: Record<string, string> }): Promise<Fleet> {
  const redis = await startRedis(options.name);
  const client = new Redis(redis.url);
  const store = new RunStore({ redis: client, prefix: redis.prefix });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `dstack-${options.name}-`));
  const common = { redisUrl: redis.url, prefix: redis.prefix, dataDir, env: { DSTACK_MAX_RUNS: String(options.maxRuns), LOG_LEVEL: "info", ...options.env } };
  const processes: ServiceProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.kill("SIGTERM")));
    client.disconnect();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const web = await startServiceProcess({ ...common, name: "web", role: "web" });
    processes.push(web);
    const workers = await Promise.all(
      Array.from({ length: options.workers }, (_, i) => startServiceProcess({ ...common, name: `worker ${i + 1}`, role: "worker", port: web.port })),
    );
    processes.push(...workers);
    const upload = await uploadWorkflows(web.url, API_TOKEN, HELLO_WORKFLOWS);
    // What a run that never concluded went through: its record and every process's lines about it.
    const describeStuck = async (id: string) => {
      const run = await store.get(id);
      const history = await client.hget(store.key("run", id), "history");
      const lines = processes.flatMap((p) => p.logs.filter((l) => l.runId === id).map((l) => `  ${p.name}: ${JSON.stringify(l)}`));
      return `${id}: ${run.status} machine=${run.machine?.id ?? "none"} history=${history ?? ""}\n${lines.join("\n")}`;
    };
    return {
      redis,
      store,
      dataDir,
      web,
      workers,
      async submit(count, inFlight = 8) {
        const ids: string[] = new Array<string>(count);
        let next = 0;
        const lane = async () => {
          for (let i = next++; i < count; i = next++) {
            ids[i] = await submitRun(web.url, API_TOKEN, { repo: "acme/fleet", workflow: "hello", upload, workflowsYaml: HELLO_WORKFLOWS });
          }
        };
        await Promise.all(Array.from({ length: inFlight }, lane));
        return ids;
      },
      async allConcluded(timeoutMs, onProgress) {
        const total = Number(await client.zcard(store.key("runs", "all")));
        const end = Date.now() + timeoutMs;
        for (;;) {
          const unconcluded = await store.unconcludedRunIds();
          const left = unconcluded.length;
          onProgress?.(total - left);
          if (left === 0) return;
          if (Date.now() > end) throw new Error(`${left} of ${total} runs not concluded within ${timeoutMs} ms:\n${(await Promise.all(unconcluded.slice(0, 5).map(describeStuck))).join("\n")}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
