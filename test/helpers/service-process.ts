import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { GitHubDouble } from "./github-double.js";
import { freePort } from "./redis.js";
import { WEBHOOK_SECRET } from "./service.js";
import { TEST_PRIVATE_KEY } from "./test-keys.js";

/**
 * The child program (plain JS over dist/, so `npm run build` is all it needs), found from the
 * sources here or from dist/test/helpers/ when a benchmark runs this helper compiled.
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE.includes(`${path.sep}dist${path.sep}`) ? path.join(HERE, "..", "..", "..") : path.join(HERE, "..", ".."), "test", "helpers", "service-child.js");

/** One pino line of a service process, with the fields tests read. */
export interface ServiceLogLine {
  time: number;
  msg: string;
  runId?: string;
  [field: string]: unknown;
}

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** Its log, parsed (pino JSON on stderr). */
  readonly logs: ServiceLogLine[];
  /** Runs held at a test point (`held <point> <run id>` on stdout). */
  readonly held: Array<{ point: string; runId: string }>;
  /** Resolves with the exit signal or code once the process is gone. */
  readonly exited: Promise<string>;
  /** Sends `signal` (default SIGKILL) and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once `predicate` holds for the process's output (checked as it arrives), else rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
}

export interface ServiceProcessOptions {
  name: string;
  redisUrl: string;
  prefix: string;
  dataDir: string;
  role: "all" | "web" | "worker";
  /** The web process's port: workers hand it to the agents they start. Default: a free port. */
  port?: number;
  github?: GitHubDouble;
  /** More environment: SERVICE_* seams (test/helpers/service-child.js), DSTACK_MAX_RUNS, ... */
  env?: Record<string, string>;
}

/** The environment a service process of these tests runs with: the web process's address, Redis, the GitHub double. */
function serviceEnv(options: ServiceProcessOptions, port: number): Record<string, string> {
  const github = options.github;
  return {
    PORT: String(port),
    HOST: "127.0.0.1",
    DSTACK_PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: options.redisUrl,
    DSTACK_DATA_DIR: options.dataDir,
    DSTACK_ROLE: options.role,
    DSTACK_API_TOKEN: API_TOKEN,
    DSTACK_SECRETS_KEY: "fault-tests-secrets-key-0123456789abcdef",
    LOG_LEVEL: "info",
    SERVICE_PREFIX: options.prefix,
    ...(github !== undefined
      ? { APP_ID: String(github.appId), PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http" }
      : {}),
    ...options.env,
  };
}

/** The API token every service process of these tests shares. */
export const API_TOKEN = "fault-tests-api-token-0123456789";

/**
 * Starts the compiled service as its own process (kill -9 must kill a real process, not a
 * closure) and resolves once it serves (web, all) or consumes (worker).
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...serviceEnv(options, port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: ServiceLogLine[] = [];
  const held: Array<{ point: string; runId: string }> = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  let stderrTail = "";
  let partial = "";
  child.stderr.on("data", (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      stderrTail = (stderrTail + line + "\n").slice(-4000);
      try {
        logs.push(JSON.parse(line) as ServiceLogLine);
      } catch {
        /* not a log line (a crash's stack): kept in stderrTail for the failure message */
      }
    }
    notify();
  });
  let ready = false;
  child.stdout.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n")) {
      const m = /^held (\S+) (\S+)$/.exec(line);
      if (m !== null) held.push({ point: m[1] ?? "", runId: m[2] ?? "" });
      if (line.startsWith("ready ")) ready = true;
    }
    notify();
  });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      notify();
      resolve(signal ?? String(code));
    });
  });
  const waitFor = <T>(predicate: () => T | undefined | false, timeoutMs = 30_000, what = "a condition"): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = predicate();
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`${options.name} exited before ${what}:\n${stderrTail}`));
        }
      };
      const poll = setInterval(check, 100);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${options.name}: no ${what} within ${timeoutMs} ms:\n${stderrTail.slice(-1500)}`));
      }, timeoutMs);
      const done = () => {
        clearInterval(poll);
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  await waitFor(() => ready, 30_000, "ready line");
  return {
    name: options.name,
    pid: child.pid ?? 0,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    held,
    exited,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
    waitFor,
  };
}

/** When a process's log first says it supervises `runId` (pino time, ms since the epoch). */
export function supervisedAt(p: ServiceProcess, runId: string): number | undefined {
  return p.logs.find((l) => l.msg === "supervising run" && l.runId === runId)?.time;
}

/**
 * Agent processes the local backend started for each run (`runs/{id}/launches`, one pid a line):
 * the count of launches per run id.
 */
export function agentLaunches(dataDir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const runsDir = path.join(dataDir, "runs");
  let ids: string[];
  try {
    ids = readdirSync(runsDir);
  } catch {
    return counts;
  }
  for (const id of ids) {
    try {
      // The launcher and the agent both record the agent's pid: distinct pids are launches.
      counts.set(id, new Set(readFileSync(path.join(runsDir, id, "launches"), "utf8").trim().split("\n").filter((l) => l !== "")).size);
    } catch {
      /* no agent was started for this run */
    }
  }
  return counts;
}

/** Submits `workflow` of the repository files through the HTTP API (`POST /api/v1/runs`); returns the run id. */
export async function submitRun(
  url: string,
  input: { repo: string; commit: string; files: Record<string, string>; workflow: string },
): Promise<string> {
  const res = await fetch(`${url}/api/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      repo: input.repo,
      commit: input.commit,
      files: Object.entries(input.files).map(([p, text]) => ({ path: p, text })),
      run: [input.workflow],
      code: { kind: "github" },
    }),
  });
  const body = (await res.json()) as { run?: { id: string }; message?: string };
  if (res.status !== 201 || body.run === undefined) throw new Error(`POST /api/v1/runs answered ${res.status}: ${body.message ?? ""}`);
  return body.run.id;
}
