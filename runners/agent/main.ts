#!/usr/bin/env node
import { spawn } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { x as untar } from "tar";
import { SecretMasker } from "../../src/runs/secret-masker.js";
import type { SecretMaskingStream } from "../../src/runs/secret-masking-stream.js";
import { applyOverlay } from "./apply-overlay.js";
import { downloadInputs, refusedReason, uploadArtifacts } from "./artifacts.js";
import { AgentClient } from "./client.js";
import { startHeartbeat, StopRequested } from "./heartbeat.js";
import { AGENT_ONLY_VARIABLES, loadAgentConfig, type AgentConfig } from "./config.js";
import { restoreCheckpoint } from "./checkpoints.js";
import { saveOnInterruption, SpotInterrupted, startInterruptionWatch } from "./interruption.js";
import { gpuMismatch } from "./gpu-check.js";
import { detectLocalGpus } from "../local/local-gpus.js";
import { JobSpec, type FinishReport } from "./job-spec.js";
import { LineSplitter } from "./line-splitter.js";
import { LogShipper } from "./log-shipper.js";
import { prepareProvider, type Step } from "./providers.js";
import type { Output } from "./python-env.js";

/** Grace period between SIGTERM and SIGKILL when a run is stopped. */
const KILL_GRACE_MS = 10_000;


/**
 * The runner agent: runs ONE job on the machine it is given, the same program on every backend
 * (a child process of the local backend, user data on EC2). It talks to the service only through
 * the run-scoped agent API; it holds no GitHub token and no cloud credentials.
 */
export async function runAgent(config: AgentConfig): Promise<FinishReport> {
  const client = new AgentClient(config);
  const job = JobSpec.parse(await client.json("/job"));
  const masker = new SecretMasker(job.secrets);
  const shipper = new LogShipper(client);
  // The agent's own messages and the provider's setup output (pip) share one masking stream; the
  // workflow's stdout and stderr get one each (runStep). Flushed whenever that output is over.
  const own = masker.stream();
  const out: Output = { write: (chunk) => shipper.write(own.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk)) };
  const flushOwn = () => void shipper.write(own.flush());

  const stop = new AbortController();
  const heartbeat = startHeartbeat(client, { intervalMs: job.heartbeatSeconds * 1000, lostAfterMs: config.lostAfterMinutes * 60_000 }, stop);
  const deadline = setTimeout(() => stop.abort(new StopRequested(`the run exceeded ${job.maxRunMinutes} minutes`)), job.maxRunMinutes * 60_000);
  deadline.unref();
  const interruptions = startInterruptionWatch(config, client, stop, out);

  let report: FinishReport;
  let workingDir: string | undefined;
  try {
    // The GPUs go with the first status, so the run shows what its machine really has.
    const gpus = config.checkGpus ? detectLocalGpus() : undefined;
    await client.post("/status", { status: "running", ...(gpus !== undefined ? { gpus: gpus.map((g) => ({ name: g.name, memoryMiB: g.memoryMiB })) } : {}) });
    const mismatch = gpus === undefined ? undefined : gpuMismatch(job.gpu, gpus);
    if (mismatch !== undefined) throw new Error(mismatch);
    const repoDir = path.join(config.workDir, "repo");
    await fetchCode(client, repoDir, job.codeStrip);
    if (job.codeOverlay !== undefined) await applyOverlay(client, repoDir, job.codeOverlay.deleted);
    const cwd = path.resolve(repoDir, job.workflow.workingDir ?? ".");
    if (path.relative(repoDir, cwd).startsWith("..")) throw new Error(`working_dir ${job.workflow.workingDir} leaves the repository`);
    await mkdir(cwd, { recursive: true });
    workingDir = cwd;
    await downloadInputs({ client, out }, { cwd, inputs: job.inputs });
    if (job.restoreCheckpoint !== undefined) await restoreCheckpoint({ client, out }, { cwd, checkpoint: job.restoreCheckpoint });

    const env = workflowEnv(job, config);
    const prepared = await prepareProvider({ out, cacheDir: config.cacheDir, env, repoDir }, job, cwd);
    let exitCode = 0;
    if (prepared.inProcess !== undefined) await prepared.inProcess(stop.signal);
    for (const step of prepared.steps) {
      // Stopped before this step began (a stop, or a spot notice during setup): an abort that already
      // happened never fires runStep's listener, so the step would run unstopped.
      if (stop.signal.aborted) break;
      flushOwn();
      exitCode = await runStep(step, { cwd, env, masker, shipper, signal: stop.signal, pidFile: path.join(config.workDir, "step.pid") });
      if (exitCode !== 0) break;
    }
    if (stop.signal.aborted) throw stop.signal.reason;
    if (exitCode !== 0) {
      report = { status: "failed", exitCode, reason: `the workflow exited with code ${exitCode}`, artifacts: [] };
    } else {
      await client.post("/status", { status: "uploading" });
      const { uploaded, refused } = await uploadArtifacts(
        { client, out },
        { cwd, artifacts: job.workflow.artifacts, signal: stop.signal, mask: (t) => masker.maskText(t), uploadLimits: job.uploadLimits },
      );
      // A file over the upload limits fails the run with its reason; the files that fit are kept (the service writes their manifest).
      report = refused.length === 0 ? { status: "done", exitCode: 0, artifacts: uploaded } : { status: "failed", exitCode: 0, reason: refusedReason(refused).slice(0, 2000), artifacts: uploaded };
    }
  } catch (err) {
    const interrupted = stop.signal.reason instanceof SpotInterrupted ? stop.signal.reason : undefined;
    if (interrupted !== undefined) {
      report = await saveOnInterruption({ client, out, mask: (t) => masker.maskText(t) }, { cwd: workingDir, paths: job.workflow.checkpoints ?? [], interrupted, uploadLimits: job.uploadLimits });
    } else {
      const reason = err instanceof StopRequested ? err.message : masker.maskText(err instanceof Error ? err.message : String(err));
      if (!(err instanceof StopRequested)) out.write(`[dstack] error: ${reason}\n`);
      report = { status: err instanceof StopRequested ? "stopped" : "failed", reason, artifacts: [] };
    }
  } finally {
    clearTimeout(deadline);
    heartbeat.stop();
    interruptions.stop();
  }
  flushOwn();
  await shipper.flush();
  await client.post("/finish", report);
  client.close();
  await rm(path.join(config.workDir, "repo"), { recursive: true, force: true }).catch(() => undefined);
  return report;
}

/** The workflow's environment: the agent's own (PATH, HOME, proxies) minus its credentials, plus the job's. */
function workflowEnv(job: JobSpec, config: AgentConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of AGENT_ONLY_VARIABLES) delete env[k];
  Object.assign(env, job.env, {
    PYTHONUNBUFFERED: "1",
    DSTACK_RUN_ID: job.runId,
    DSTACK_REPO: job.repo,
    DSTACK_COMMIT: job.commit,
    DSTACK_WORKFLOW: job.workflow.name,
  });
  void config;
  return env;
}

async function fetchCode(client: AgentClient, dir: string, strip: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const res = await client.request("/code");
  if (res.body === null) throw new Error("the service sent no code");
  await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), untar({ cwd: dir, strip, gzip: true }));
}

function runStep(
  step: Step,
  ctx: { cwd: string; env: NodeJS.ProcessEnv; masker: SecretMasker; shipper: LogShipper; signal: AbortSignal; pidFile: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    // Own process group, so a stop kills the workflow's whole tree, not just the shell. The group
    // id goes to a file so the backend can kill it too if this agent itself dies.
    const child = spawn(step.exe, step.args, { cwd: ctx.cwd, env: ctx.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    if (child.pid !== undefined) writeFileSync(ctx.pidFile, String(child.pid));
    // Each output stream is masked as a stream (a secret split across two reads or two writes of
    // the workflow is still masked), then cut into whole lines so stdout and stderr never
    // interleave inside a line. The masker holds back only bytes that may start a secret, so
    // ordinary lines reach the log as soon as their newline arrives.
    const outputs: Array<{ masking: SecretMaskingStream; lines: LineSplitter }> = [];
    const onData = (stream: Readable) => {
      const lines = new LineSplitter((line) => {
        if (!ctx.shipper.write(line)) {
          stream.pause();
          void ctx.shipper.drained().then(() => stream.resume());
        }
      });
      const masking = ctx.masker.stream();
      outputs.push({ masking, lines });
      return (chunk: Buffer) => {
        const masked = masking.write(chunk);
        if (masked.length > 0) lines.write(masked);
      };
    };
    child.stdout.on("data", onData(child.stdout));
    child.stderr.on("data", onData(child.stderr));
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      } catch {
        /* the group already exited */
      }
      setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          /* the group exited within the grace period */
        }
      }, KILL_GRACE_MS).unref();
    };
    ctx.signal.addEventListener("abort", kill, { once: true });
    child.on("error", (err) => {
      ctx.signal.removeEventListener("abort", kill);
      reject(new Error(`cannot start ${step.label}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      ctx.signal.removeEventListener("abort", kill);
      for (const { masking, lines } of outputs) {
        const rest = masking.flush();
        if (rest.length > 0) lines.write(rest);
        lines.end();
      }
      resolve(code ?? (signal === null ? 1 : 128 + (signalNumber(signal) ?? 0)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal];
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href;
if (isMain) {
  let config: AgentConfig;
  try {
    config = loadAgentConfig(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  if (config.launchRecord !== undefined) {
    // Best effort: the launcher's own line is the record when this one cannot be written.
    try {
      appendFileSync(config.launchRecord, `${process.pid}\n`);
    } catch (err) {
      process.stderr.write(`dstack agent: could not record this launch in ${config.launchRecord}: ${(err as Error).message}\n`);
    }
  }
  runAgent(config).then(
    (report) => process.exit(report.status === "done" ? 0 : 1),
    (err: unknown) => {
      process.stderr.write(`dstack agent: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(3);
    },
  );
}
