import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RunStore } from "../src/runs/run-store.js";
import { startGitHubDouble, type GitHubDouble } from "../test/helpers/github-double.js";
import { buildTinyWheel } from "../test/helpers/python-wheel.js";
import { freePort, startRedis, type TestRedis } from "../test/helpers/redis.js";
import { TEST_PRIVATE_KEY } from "../test/helpers/test-keys.js";
import { makeIssueCommentPayload, signAndSend } from "../test/helpers/webhooks.js";
import { quantile, type Benchmark, type Report } from "./report.js";

/**
 * The spine's figures (issue 3): comment -> check run queued and -> first log line; webhook intake
 * against a bare Probot app; the log path against a bare Node pipe and `cat`; run start of python
 * (first and cached) against bash. The service runs as its own process (bench/service-process.ts)
 * so its memory and CPU are its own; Redis and the GitHub double are the test ones.
 */
const OWNER = "bench";
const REPO = "spine";
const SECRET = "bench-webhook-secret";
const LOG_BYTES = 200_000_000;
const LINE = `${"0123456789".repeat(9)}abcdefghi\n`; // 100 bytes
const FLOOD = `yes ${LINE.trim()} | head -c ${LOG_BYTES}`;
const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - echo "hello from dstack"
      - mkdir -p out && echo "result" > out/result.txt
    artifacts: [out]
  - name: flood
    provider: bash
    commands:
      - ${FLOOD}
  - name: bash-start
    provider: bash
    commands:
      - echo started
  - name: python-start
    provider: python
    file: start.py
    requirements: requirements.txt
`;
/** Secrets the runs receive, so the log path is measured with masking on. */
const SECRETS = { HF_TOKEN: "hf_bench0123456789abcdefghijklmnopqrstuv", WANDB_API_KEY: "0123456789abcdef0123456789abcdef01234567" };

const here = path.dirname(fileURLToPath(import.meta.url));

interface ServiceProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a node program of dist/bench that prints `ready <port>`. */
async function startProcess(script: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = Number(env.PORT);
  // BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the measured processes.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child = spawn(process.execPath, [...nodeArgs, path.join(here, script)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

interface Setup {
  redis: TestRedis;
  client: Redis;
  github: GitHubDouble;
  pr: number;
  dataDir: string;
  wheelDir: string;
  service: ServiceProcess;
  prefix: string;
  store: RunStore;
}

let nextComment = 1;

async function comment(s: Setup, body: string, url = s.service.url): Promise<void> {
  const commentId = nextComment++;
  s.github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber: s.pr, body, user: "alice", id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: s.pr, isPullRequest: true, body, user: "alice", commentId });
  const res = await signAndSend(`${url}/api/github/webhooks`, { event: "issue_comment", payload, secret: SECRET });
  if (res.status >= 300) throw new Error(`webhook answered ${res.status}: ${res.body}`);
}

/** Sends `/dstack run <workflow>` and returns the new run's id once its check run exists. */
async function startRun(s: Setup, workflow: string): Promise<{ runId: string; checkRunId: number; sentAt: number; queuedAt: number }> {
  const after = Math.max(0, ...s.github.checkRuns.map((c) => c.id));
  const sentAt = performance.now();
  await comment(s, `/dstack run ${workflow}`);
  const created = await s.github.waitFor((g) => g.checkRuns.find((c) => c.id > after && c.name === `dstack: ${workflow}`), { timeoutMs: 30_000 });
  return { runId: created.external_id ?? "", checkRunId: created.id, sentAt, queuedAt: performance.now() };
}

/** Resolves when the run's log (Redis stream, as the service writes it) contains `needle` (any byte when empty). */
async function waitForLog(s: Setup, runId: string, needle = ""): Promise<number> {
  const key = `${s.prefix}:log:${runId}`;
  const reader = s.client.duplicate();
  try {
    let last = "0";
    for (;;) {
      const res = (await reader.xread("COUNT", 100, "BLOCK", 60_000, "STREAMS", key, last)) as Array<[string, Array<[string, string[]]>]> | null;
      if (res === null) throw new Error(`no log for run ${runId} within 60 s`);
      for (const [id, fields] of res[0]?.[1] ?? []) {
        last = id;
        const data = fields[fields.indexOf("d") + 1] ?? "";
        if (needle === "" || data.includes(needle)) return performance.now();
      }
    }
  } finally {
    reader.disconnect();
  }
}

async function waitCompleted(s: Setup, checkRunId: number, timeoutMs = 120_000): Promise<string> {
  const done = await s.github.waitFor((g) => g.checkRun(checkRunId)?.status === "completed" && g.checkRun(checkRunId), { timeoutMs });
  return done.conclusion ?? "";
}

async function setUp(): Promise<Setup> {
  const redis = await startRedis("bench-spine");
  const client = new Redis(redis.url);
  const github = await startGitHubDouble();
  const wheelDir = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-wheels-"));
  buildTinyWheel(wheelDir);
  github.addRepo({
    owner: OWNER,
    name: REPO,
    files: { ".dstack/workflows.yaml": WORKFLOWS, "start.py": "import tinypkg\nprint('started', tinypkg.VALUE)\n", "requirements.txt": "tinypkg\n" },
  });
  github.createBranch(OWNER, REPO, "feature");
  github.commit(OWNER, REPO, { "notes.txt": "x\n" }, { branch: "feature" });
  const pr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature" });
  github.setPermission(OWNER, REPO, "alice", "admin");
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-data-"));
  const port = await freePort();
  const prefix = redis.prefix;
  const service = await startProcess("service-process.js", {
    ...serviceEnv(github, redis.url, dataDir, port),
    BENCH_PREFIX: prefix,
    BENCH_AGENT_ENV: JSON.stringify({ PIP_NO_INDEX: "1", PIP_FIND_LINKS: wheelDir }),
    BENCH_SECRETS: JSON.stringify(SECRETS),
  });
  return { redis, client, github, pr, dataDir, wheelDir, service, prefix, store: new RunStore({ redis: client, prefix }) };
}

function serviceEnv(github: GitHubDouble, redisUrl: string, dataDir: string, port: number): Record<string, string> {
  return {
    PORT: String(port),
    HOST: "127.0.0.1",
    DSTACK_PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: redisUrl,
    DSTACK_DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    APP_ID: String(github.appId),
    PRIVATE_KEY: TEST_PRIVATE_KEY,
    WEBHOOK_SECRET: SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
  };
}

async function tearDown(s: Setup): Promise<void> {
  await s.service.stop();
  s.client.disconnect();
  await s.github.close();
  await s.redis.stop();
  await rm(s.dataDir, { recursive: true, force: true });
  await rm(s.wheelDir, { recursive: true, force: true });
}

async function latency(s: Setup, report: Report): Promise<void> {
  const queued: number[] = [];
  const firstLine: number[] = [];
  for (let i = 0; i < 21; i++) {
    const run = await startRun(s, "hello");
    const logged = await waitForLog(s, run.runId);
    const conclusion = await waitCompleted(s, run.checkRunId);
    if (conclusion !== "success") throw new Error(`hello ended ${conclusion}`);
    if (i === 0) continue; // warm-up: the first run loads the code paths
    queued.push(run.queuedAt - run.sentAt);
    firstLine.push(logged - run.sentAt);
  }
  report({ name: "comment -> check run queued, median", value: quantile(queued, 0.5), unit: "ms" });
  report({ name: "comment -> check run queued, p95", value: quantile(queued, 0.95), unit: "ms", note: "target < 1000 ms; 20 runs" });
  report({ name: "comment -> first log line in the service, median", value: quantile(firstLine, 0.5), unit: "ms" });
  report({ name: "comment -> first log line in the service, p95", value: quantile(firstLine, 0.95), unit: "ms", note: "target < 2000 ms; 20 runs" });
}

/** Signed `issue_comment` deliveries, 32 in flight, for `seconds`: accepted per second and p99 answer time. */
async function blast(url: string, seconds: number, body: string): Promise<{ rate: number; p99: number }> {
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: 1, isPullRequest: true, body, user: "alice", commentId: 1 });
  const raw = Buffer.from(JSON.stringify(payload));
  const signature = `sha256=${createHmac("sha256", SECRET).update(raw).digest("hex")}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const target = new URL(`${url}/api/github/webhooks`);
  const send = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": raw.length,
            "x-github-event": "issue_comment",
            "x-github-delivery": randomUUID(),
            "x-hub-signature-256": signature,
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(raw);
    });
  const latencies: number[] = [];
  let accepted = 0;
  const run = async (until: number, record: boolean) => {
    while (performance.now() < until) {
      const t = performance.now();
      const status = await send();
      if (!record) continue;
      if (status >= 200 && status < 300) accepted++;
      latencies.push(performance.now() - t);
    }
  };
  const warm = performance.now() + 1000;
  await Promise.all(Array.from({ length: 32 }, () => run(warm, false)));
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: 32 }, () => run(end, true)));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { rate: accepted / elapsed, p99: quantile(latencies, 0.99) };
}

/**
 * A `/dstack` command is verified, deduplicated and enqueued (the web role, nothing consuming it);
 * a plain comment, like most PR comments, is verified and acknowledged without touching Redis (all
 * roles, workers in the same process). Both against a bare Probot app whose handler does nothing.
 */
async function intake(s: Setup, report: Report): Promise<void> {
  const COMMAND = "/dstack help";
  const PLAIN = "Looks good to me";
  const bare = await startProcess("bare-probot.js", {
    PORT: String(await freePort()),
    APP_ID: String(s.github.appId),
    PRIVATE_KEY: TEST_PRIVATE_KEY,
    WEBHOOK_SECRET: SECRET,
  });
  const bareFigures = await blast(bare.url, 5, COMMAND);
  await bare.stop();
  const web = await startProcess("service-process.js", {
    ...serviceEnv(s.github, s.redis.url, s.dataDir, await freePort()),
    BENCH_PREFIX: `${s.prefix}-web`,
    DSTACK_ROLE: "web",
  });
  const webFigures = await blast(web.url, 5, COMMAND);
  await web.stop();
  const plain = await blast(s.service.url, 5, PLAIN);
  const pct = (rate: number) => `${((100 * rate) / bareFigures.rate).toFixed(0)} % of bare`;
  report({ name: "webhook intake, bare Probot app", value: bareFigures.rate, unit: "deliveries/s", note: `p99 ${bareFigures.p99.toFixed(1)} ms` });
  report({ name: "webhook intake, /dstack command verified, deduplicated, enqueued (web role)", value: webFigures.rate, unit: "deliveries/s", note: `p99 ${webFigures.p99.toFixed(1)} ms; ${pct(webFigures.rate)}, target >= 90 %` });
  report({ name: "webhook intake, plain comment acknowledged (all roles)", value: plain.rate, unit: "deliveries/s", note: `p99 ${plain.p99.toFixed(1)} ms; ${pct(plain.rate)}` });
}

/** User + system CPU seconds a live process has used (0 when it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function vmKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

/** Seconds that `bash -c script` takes with its stdout piped by this Node process into a file, or to the script's own redirection. */
async function timeShell(script: string, intoFile?: string): Promise<number> {
  const t = performance.now();
  const child = spawn("bash", ["-c", script], { stdio: ["ignore", intoFile === undefined ? "ignore" : "pipe", "inherit"] });
  const done = new Promise<void>((resolve, reject) => child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${script}: exit ${code}`)))));
  if (intoFile !== undefined) {
    const file = createWriteStream(intoFile);
    child.stdout?.pipe(file);
    await new Promise<void>((resolve) => file.once("finish", () => resolve()));
  }
  await done;
  return (performance.now() - t) / 1000;
}

async function logPath(s: Setup, report: Report): Promise<void> {
  const pid = s.service.child.pid ?? 0;
  const run = await startRun(s, "flood");
  let firstAt = 0;
  let cpuAtStart = { service: 0, redis: 0 };
  let peakRss = 0;
  for (;;) {
    const r = await s.store.find(run.runId);
    peakRss = Math.max(peakRss, vmKiB(pid, "VmRSS"));
    if (r !== undefined && r.logBytes > 0 && firstAt === 0) {
      firstAt = performance.now();
      cpuAtStart = { service: cpuSeconds(pid), redis: cpuSeconds(s.redis.pid) };
    }
    if (r !== undefined && r.logBytes >= LOG_BYTES) break;
    if (r !== undefined && ["failed", "stopped", "timed_out"].includes(r.status)) throw new Error(`flood ended ${r.status}: ${r.reason}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  const serviceSeconds = (performance.now() - firstAt) / 1000;
  const agentPid = Number((await s.store.get(run.runId)).machine?.id);
  const cpu = { service: cpuSeconds(pid) - cpuAtStart.service, agent: cpuSeconds(agentPid), redis: cpuSeconds(s.redis.pid) - cpuAtStart.redis };
  await waitCompleted(s, run.checkRunId);
  const redisBytes = Number(await s.client.call("MEMORY", "USAGE", `${s.prefix}:log:${run.runId}`)) || 0;
  peakRss = Math.max(peakRss, vmKiB(pid, "VmHWM"));
  const tmp = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-log-"));
  const nodeSeconds = await timeShell(FLOOD, path.join(tmp, "node.log"));
  const catSeconds = await timeShell(`${FLOOD} | cat > ${path.join(tmp, "cat.log")}`);
  await rm(tmp, { recursive: true, force: true });
  const mb = LOG_BYTES / 1e6;
  report({ name: "log path, workflow -> log store (masking on)", value: mb / serviceSeconds, unit: "MB/s", note: `${((100 * nodeSeconds) / serviceSeconds).toFixed(0)} % of a bare Node pipe, target >= 50 %` });
  report({ name: "log path, bare Node process piping into a file", value: mb / nodeSeconds, unit: "MB/s" });
  report({ name: "log path, cat into a file (physical limit)", value: mb / catSeconds, unit: "MB/s" });
  report({ name: "log path, CPU time of the service / agent / Redis", value: cpu.service, unit: "s", note: `agent ${cpu.agent.toFixed(2)} s (its lifetime), redis ${cpu.redis.toFixed(2)} s; while the log flowed` });
  report({ name: "service peak RSS during a 200 MB log", value: peakRss / 1024, unit: "MiB", note: "target < 300 MiB" });
  report({ name: "Redis memory held by the run's log at the end", value: redisBytes / (1024 * 1024), unit: "MiB", note: "target < 64 MiB" });
}

async function runStart(s: Setup, report: Report): Promise<void> {
  const measure = async (workflow: string) => {
    const run = await startRun(s, workflow);
    const at = await waitForLog(s, run.runId, "started");
    const conclusion = await waitCompleted(s, run.checkRunId);
    if (conclusion !== "success") throw new Error(`${workflow} ended ${conclusion}`);
    return at - run.sentAt;
  };
  const bash: number[] = [];
  for (let i = 0; i < 3; i++) bash.push(await measure("bash-start"));
  const first = await measure("python-start");
  const cached: number[] = [];
  for (let i = 0; i < 3; i++) cached.push(await measure("python-start"));
  const bashMs = quantile(bash, 0.5);
  const cachedMs = quantile(cached, 0.5);
  report({ name: "run start, bash (comment -> workflow's first line), median of 3", value: bashMs, unit: "ms" });
  report({ name: "run start, python with requirements, first run", value: first, unit: "ms" });
  report({ name: "run start, python with requirements, cached environment, median of 3", value: cachedMs, unit: "ms", note: `${(cachedMs - bashMs).toFixed(0)} ms more than bash, target < 1000 ms` });
}

const spine: Benchmark = {
  name: "spine: comment -> check run, webhook intake, log path, run start",
  async run(report) {
    const s = await setUp();
    try {
      await latency(s, report);
      await runStart(s, report);
      await logPath(s, report);
      await intake(s, report);
    } finally {
      await tearDown(s);
    }
  },
};

export default spine;
