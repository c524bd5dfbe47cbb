import { execFileSync, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startRedis } from "../test/helpers/redis.js";
import { startS3Server } from "../test/helpers/s3-server.js";
import { startTestService, type TestService } from "../test/helpers/service.js";
import { quantile, type Benchmark, type Report } from "./report.js";

/**
 * The CLI's figures (issue 6): `dstack logs -f` latency from a line printed by the workflow to the
 * CLI's stdout, and `dstack artifacts download` throughput against reading the same object straight
 * from the S3-protocol server with the AWS SDK's GetObject (there is no `s3cmd` here; GetObject is
 * the same request s3cmd would make). The service runs in this process (web, worker, local agents),
 * so on 2 CPUs the figures include its competition with the bench.
 */
const TICKS = 40;
const ARTIFACT_MB = 128;
const ROUNDS = 3;
const WORKFLOWS = `workflows:
  - name: ticks
    provider: bash
    commands:
      - sleep 2
      - for i in $(seq 1 ${TICKS}); do echo "tick $i $(date +%s%N)"; sleep 0.25; done
  - name: big
    provider: bash
    commands:
      - mkdir -p out && head -c ${ARTIFACT_MB * 1024 * 1024} /dev/urandom > out/big.bin
    artifacts: [out]
`;

const BIN = fileURLToPath(new URL("../../bin/dstack.js", import.meta.url));

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string, env: Record<string, string>, onLine?: (line: string) => void): Promise<Cli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) onLine?.(l);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Wall-clock now in ns, comparable with `date +%s%N` of the workflow. */
function nowNs(): number {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

async function measureLatency(report: Report, repo: string, env: Record<string, string>): Promise<void> {
  const submitted = await cli(["run", "ticks"], repo, env);
  if (submitted.code !== 0) throw new Error(`dstack run ticks failed: ${submitted.stderr}`);
  const runId = submitted.stdout.trim();
  const latenciesMs: number[] = [];
  const followed = await cli(["logs", runId, "-f"], repo, env, (line) => {
    const m = /^tick \d+ (\d+)$/.exec(line);
    if (m !== null) latenciesMs.push((nowNs() - Number(m[1])) / 1e6);
  });
  if (followed.code !== 0) throw new Error(`dstack logs -f exited ${followed.code}: ${followed.stderr}`);
  if (latenciesMs.length !== TICKS) throw new Error(`saw ${latenciesMs.length} of ${TICKS} ticks`);
  const note = `${TICKS} lines 250 ms apart; includes the agent's 200 ms log batching`;
  report({ name: "logs -f latency, workflow line -> CLI stdout, median", value: quantile(latenciesMs, 0.5), unit: "ms", note });
  report({ name: "logs -f latency, workflow line -> CLI stdout, p95", value: quantile(latenciesMs, 0.95), unit: "ms", note });
}

async function measureDownload(report: Report, service: TestService, repo: string, env: Record<string, string>, s3: S3Client, bucketPrefix: string): Promise<void> {
  const submitted = await cli(["run", "big", "-f"], repo, env);
  if (submitted.code !== 0) throw new Error(`dstack run big failed: ${submitted.stderr}`);
  const runId = /run ([a-z0-9]+) \(big\) submitted/.exec(submitted.stderr)?.[1] ?? "";
  const bytes = ARTIFACT_MB * 1024 * 1024;
  const cliTimes: number[] = [];
  const sdkTimes: number[] = [];
  const apiTimes: number[] = [];
  const out = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-dl-"));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      const dl = await cli(["artifacts", "download", runId, "-o", path.join(out, `cli-${round}`)], repo, env);
      if (dl.code !== 0) throw new Error(`download failed: ${dl.stderr}`);
      cliTimes.push(performance.now() - t);
      if ((await stat(path.join(out, `cli-${round}`, "out", "big.bin"))).size !== bytes) throw new Error("the CLI wrote a file of the wrong size");

      t = performance.now();
      const res = await fetch(`${service.url}/api/v1/runs/${runId}/artifacts/file?path=out/big.bin`, { headers: { authorization: `Bearer ${service.keys.apiToken}` } });
      await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(path.join(out, `api-${round}.bin`)));
      apiTimes.push(performance.now() - t);

      t = performance.now();
      const obj = await s3.send(new GetObjectCommand({ Bucket: "artifacts", Key: `${bucketPrefix}/runs/${runId}/artifacts/out/big.bin` }));
      await pipeline(obj.Body as Readable, createWriteStream(path.join(out, `sdk-${round}.bin`)));
      sdkTimes.push(performance.now() - t);
      await rm(path.join(out, `cli-${round}`), { recursive: true, force: true });
      await rm(path.join(out, `api-${round}.bin`), { force: true });
      await rm(path.join(out, `sdk-${round}.bin`), { force: true });
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  const mbps = (ms: number) => bytes / 1e6 / (ms / 1000);
  const note = `${ARTIFACT_MB} MiB object, median of ${ROUNDS}, written to a file`;
  report({ name: "artifacts download, dstack CLI (process start included)", value: mbps(quantile(cliTimes, 0.5)), unit: "MB/s", note });
  report({ name: "artifacts download, API file route streamed to a file", value: mbps(quantile(apiTimes, 0.5)), unit: "MB/s", note });
  report({ name: "artifacts download, AWS SDK GetObject from the S3 server (baseline; no s3cmd here)", value: mbps(quantile(sdkTimes, 0.5)), unit: "MB/s", note });
}

const bench: Benchmark = {
  name: "cli: dstack logs -f latency, artifact download throughput",
  async run(report) {
    const redis = await startRedis("bench-cli");
    const s3Server = await startS3Server({ buckets: ["artifacts"] });
    const repo = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-cli-"));
    let service: TestService | undefined;
    const s3 = new S3Client({
      region: s3Server.region,
      endpoint: s3Server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3Server.accessKeyId, secretAccessKey: s3Server.secretAccessKey },
    });
    try {
      service = await startTestService({
        redisUrl: redis.url,
        prefix: redis.prefix,
        env: {
          LOG_LEVEL: "warn",
          DSTACK_ARTIFACTS: "s3://artifacts/bench",
          AWS_ENDPOINT_URL_S3: s3Server.endpoint,
          AWS_ACCESS_KEY_ID: s3Server.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3Server.secretAccessKey,
          AWS_REGION: s3Server.region,
        },
      });
      execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo });
      execFileSync("git", ["remote", "add", "origin", "https://github.com/bench/cli.git"], { cwd: repo });
      await mkdir(path.join(repo, ".dstack"));
      await writeFile(path.join(repo, ".dstack", "workflows.yaml"), WORKFLOWS);
      const env = { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: repo, NO_COLOR: "1" };
      await measureLatency(report, repo, env);
      await measureDownload(report, service, repo, env, s3, "bench");
    } finally {
      s3.destroy();
      await service?.stop();
      await s3Server.close();
      await redis.stop();
      await rm(repo, { recursive: true, force: true });
    }
  },
};

export default bench;
