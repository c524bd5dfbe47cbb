import { createHash } from "node:crypto";
import { pipeline as pipelineCallback, Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { commitRunManifest, runArtifactKey, runCheckpointKey, trustedArtifacts, type ArtifactStore } from "../artifacts/index.js";
import { DEFAULT_UPLOAD_LIMITS, fileOverLimit, kindLimit, totalOverLimit, type UploadKind, type UploadLimits } from "../artifacts/upload-limits.js";
import { CorruptSecretError, DstackError, InvalidInputError, NotFoundError, SecretsKeyError, UnauthorizedError } from "../errors.js";
import { FinishReport, InterruptionNotice, type JobSpec } from "../../runners/agent/job-spec.js";
import type { CodeSource } from "../runs/code-source.js";
import type { LogStore } from "../runs/log-store.js";
import { MASK_HELD_FIELD, RAW_LOG_BYTES_FIELD, type RunStore } from "../runs/run-store.js";
import { currentAttempt } from "../runs/run-attempts.js";
import { SecretMasker } from "../runs/secret-masker.js";
import type { MaskingState } from "../runs/secret-masking-stream.js";
import type { SecretsProvider } from "../runs/secrets-provider.js";
import type { TestPointHook } from "../runs/test-point.js";
import { holdUploadBytes } from "../runs/upload-quota.js";
import { isTerminal, type Run } from "../runs/types.js";
import { bearerToken, readBody, readJson, sendJson, type RequestContext, type Router } from "../http/router.js";
import { declaredLength, limitRequestBody, refuseRest } from "../http/limit-request-body.js";

export interface AgentApiDeps {
  store: RunStore;
  logs: LogStore;
  artifacts: ArtifactStore;
  code: CodeSource;
  secrets: SecretsProvider;
  maxRunMinutes: number;
  heartbeatSeconds: number;
  /** Bounds of artifact and checkpoint uploads (DSTACK_MAX_*_BYTES). Default: `DEFAULT_UPLOAD_LIMITS`. */
  uploadLimits?: UploadLimits;
  /** Fault tests hold agents' requests here (`job`, `upload`) to kill a worker while a run is in that phase. */
  testPoint?: TestPointHook;
}

/** Largest log chunk accepted in one request (the agent sends at most 1 MiB). */
const MAX_LOG_CHUNK = 8 * 1024 * 1024;

const StatusBody = z.object({
  status: z.enum(["running", "uploading"]),
  /** The GPUs `nvidia-smi` shows the agent (agents that check GPUs send them with `running`). */
  gpus: z.array(z.object({ name: z.string().max(200), memoryMiB: z.number().min(0) })).max(64).optional(),
});

/**
 * The runner agent's API, `/api/agent/v1/runs/{id}/...`, authorised by the run's own token: an
 * agent can read its job and write its own run, nothing else. Only Redis and the stores are
 * written here; GitHub is updated by the run's supervisor in a worker.
 */
export function mountAgentApi(router: Router, deps: AgentApiDeps): void {
  const uploadLimits = deps.uploadLimits ?? DEFAULT_UPLOAD_LIMITS;
  // The agent masks first; this is defence in depth (an agent of an older version, or output the
  // agent let through). Compiled maskers are cached per run in this process; the masking stream's
  // carry-over (held-back bytes that may start a secret) lives in the run's hash, so a value split
  // across two log requests is masked even when they reach different service processes.
  const maskers = new Map<string, Promise<SecretMasker>>();
  const maskerFor = (run: Run) => {
    let m = maskers.get(run.id);
    if (m === undefined) {
      m = deps.secrets.forRun(run).then((values) => new SecretMasker(Object.values(values)));
      maskers.set(run.id, m);
      // A failed lookup (Redis down) is retried by the next request, not cached.
      m.catch(() => maskers.delete(run.id));
    }
    return m;
  };

  const auth = async (ctx: RequestContext): Promise<Run> => {
    const id = ctx.params.id ?? "";
    const token = bearerToken(ctx.req);
    if (token === undefined || !(await deps.store.verifyToken(id, token))) {
      throw new UnauthorizedError("this runner token is not valid for that run");
    }
    const run = await deps.store.get(id);
    // The workflow's own code can read the token on its machine. Once the run is concluded (machine
    // released, log archived, conclusion published) no agent has anything left to send or fetch, so a
    // copied token must not keep reading the job's secrets and inputs or writing into the run.
    if (run.concluded) throw new UnauthorizedError("this run has ended; its runner token is no longer valid");
    return run;
  };
  const base = "/api/agent/v1/runs/:id";

  router.add("GET", `${base}/job`, async (ctx) => {
    const run = await auth(ctx);
    await deps.testPoint?.("job", run);
    // The agent's first request ends its machine's boot time (from `provisioning`), kept once.
    await deps.store.redis.hsetnx(deps.store.key("run", run.id), "agentContactAt", String(Date.now()));
    const secrets = await deps.secrets.forRun(run).catch(async (err: unknown) => {
      // Secrets that cannot be decrypted (DSTACK_SECRETS_KEY changed, a record altered) fail the
      // run with the store's message, which names the fix; the agent only sees this answer.
      if (err instanceof SecretsKeyError || err instanceof CorruptSecretError) {
        await deps.store.transition(run.id, "failed", { patch: { reason: err.message } });
      }
      throw err;
    });
    const w = run.workflow;
    const env: Record<string, string> = { ...w.env, ...secrets };
    const spec: JobSpec = {
      runId: run.id,
      repo: run.repo,
      commit: run.commit,
      workflow: {
        name: w.name,
        provider: w.provider,
        file: w.file,
        args: w.args,
        requirements: w.requirements,
        version: w.version,
        commands: w.commands,
        setup: w.setup,
        image: w.image,
        url: w.url,
        output: w.output,
        workingDir: w.workingDir,
        artifacts: w.artifacts,
        ...(w.checkpoints !== undefined ? { checkpoints: w.checkpoints } : {}),
      },
      ...(run.checkpoint !== undefined ? { restoreCheckpoint: { attempt: run.checkpoint.attempt, files: run.checkpoint.files } } : {}),
      env,
      secrets: Object.values(secrets),
      inputs: run.inputs,
      codeStrip: run.code.kind === "github" ? 1 : 0,
      ...(run.code.kind === "github" && run.code.overlay !== undefined ? { codeOverlay: { deleted: run.code.overlay.deleted } } : {}),
      maxRunMinutes: deps.maxRunMinutes,
      heartbeatSeconds: deps.heartbeatSeconds,
      uploadLimits: { artifactFileBytes: uploadLimits.artifactFileBytes, runArtifactBytes: uploadLimits.runArtifactBytes, checkpointBytes: uploadLimits.checkpointBytes },
      ...(w.resources.gpu !== undefined ? { gpu: w.resources.gpu } : {}),
    };
    sendJson(ctx.res, 200, spec);
  });

  router.add("GET", `${base}/code`, async (ctx) => {
    const run = await auth(ctx);
    const { stream } = await deps.code.open(run);
    ctx.res.writeHead(200, { "content-type": "application/gzip" });
    await pipeline(stream, ctx.res);
  });

  router.add("GET", `${base}/code/overlay`, async (ctx) => {
    const run = await auth(ctx);
    if (run.code.kind !== "github" || run.code.overlay === undefined) throw new NotFoundError(`run ${run.id} has no local changes`);
    const stream = await deps.artifacts.get(run.code.overlay.key);
    ctx.res.writeHead(200, { "content-type": "application/gzip" });
    await pipeline(stream, ctx.res);
  });

  router.add("POST", `${base}/status`, async (ctx) => {
    const run = await auth(ctx);
    const body = StatusBody.safeParse(await readJson(ctx.req));
    if (!body.success) throw new InvalidInputError("status must be running or uploading");
    const now = Date.now();
    if (body.data.status === "running") {
      const gpusSeen = body.data.gpus;
      // A resumed run keeps its first start: its duration and DSTACK_MAX_RUN_MINUTES count every attempt.
      await deps.store.transition(run.id, "running", { from: ["provisioning"], patch: { startedAt: run.startedAt ?? now, heartbeatAt: now, ...(gpusSeen !== undefined ? { gpusSeen } : {}) } });
    } else {
      await deps.store.transition(run.id, "uploading", { from: ["running"], patch: { heartbeatAt: now } });
    }
    const fresh = await deps.store.get(run.id);
    sendJson(ctx.res, 200, { status: fresh.status });
  });

  router.add("POST", `${base}/heartbeat`, async (ctx) => {
    const run = await auth(ctx);
    await deps.store.heartbeat(run.id);
    if (isTerminal(run.status)) {
      sendJson(ctx.res, 200, { stop: true, reason: `the run is already ${run.status}` });
      return;
    }
    sendJson(ctx.res, 200, run.stopRequested === undefined ? { stop: false } : { stop: true, reason: run.stopRequested });
  });

  router.add("POST", `${base}/logs`, async (ctx) => {
    const run = await auth(ctx);
    const offset = Number(ctx.req.headers["x-dstack-offset"]);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidInputError("x-dstack-offset must be the chunk's byte offset");
    const chunk = await readBody(ctx.req, MAX_LOG_CHUNK);
    // The agent numbers raw bytes; a retried request whose bytes we already have is skipped, so
    // a log is never appended twice. Stored bytes are masked, so they are counted separately.
    const rawKey = deps.store.key("run", run.id);
    const [receivedField, heldField] = await deps.store.redis.hmget(rawKey, RAW_LOG_BYTES_FIELD, MASK_HELD_FIELD);
    const received = Number(receivedField ?? "0");
    if (offset + chunk.length <= received) {
      sendJson(ctx.res, 200, { received });
      return;
    }
    if (offset > received) {
      throw new DstackError("conflict", `log chunk at ${offset} leaves a gap: the service has ${received} bytes`);
    }
    const fresh = chunk.subarray(received - offset);
    const stream = (await maskerFor(run)).stream(decodeMaskingState(heldField));
    const masked = stream.write(fresh);
    const storedBefore = run.logBytes;
    await deps.logs.append(run.id, storedBefore, masked);
    const multi = deps.store.redis
      .multi()
      .hincrby(rawKey, RAW_LOG_BYTES_FIELD, fresh.length)
      .hincrby(rawKey, "logBytes", masked.length)
      .hset(rawKey, "heartbeatAt", String(Date.now()));
    if (stream.heldBytes > 0) multi.hset(rawKey, MASK_HELD_FIELD, encodeMaskingState(stream.state));
    else if (heldField !== null && heldField !== undefined) multi.hdel(rawKey, MASK_HELD_FIELD);
    await multi.exec();
    sendJson(ctx.res, 200, { received: received + fresh.length });
  });

  router.add("PUT", `${base}/artifacts`, async (ctx) => {
    const run = await auth(ctx);
    if (isTerminal(run.status)) throw new DstackError("conflict", `the run is already ${run.status}`);
    await deps.testPoint?.("upload", run);
    const rel = ctx.url.searchParams.get("path") ?? "";
    await refuseSecretInPath(run, rel);
    const stored = await storeUpload(ctx, run, "artifact", rel, runArtifactKey(run.id, rel));
    sendJson(ctx.res, 200, { path: rel, ...stored });
  });

  router.add("PUT", `${base}/checkpoints`, async (ctx) => {
    const run = await auth(ctx);
    if (isTerminal(run.status)) throw new DstackError("conflict", `the run is already ${run.status}`);
    const rel = ctx.url.searchParams.get("path") ?? "";
    await refuseSecretInPath(run, rel);
    const stored = await storeUpload(ctx, run, "checkpoint", rel, runCheckpointKey(run.id, currentAttempt(run), rel));
    sendJson(ctx.res, 200, { path: rel, sizeBytes: stored.sizeBytes });
  });

  router.add("GET", `${base}/checkpoint/file`, async (ctx) => {
    const run = await auth(ctx);
    const rel = ctx.url.searchParams.get("path") ?? "";
    if (run.checkpoint === undefined || !run.checkpoint.files.some((f) => f.path === rel)) throw new NotFoundError(`run ${run.id} has no checkpoint file ${JSON.stringify(rel)}`);
    const stream = await deps.artifacts.get(runCheckpointKey(run.id, run.checkpoint.attempt, rel));
    ctx.res.writeHead(200, { "content-type": "application/octet-stream" });
    await pipeline(stream, ctx.res);
  });

  router.add("POST", `${base}/interruption`, async (ctx) => {
    const run = await auth(ctx);
    const body = InterruptionNotice.safeParse(await readJson(ctx.req));
    if (!body.success) throw new InvalidInputError("an interruption notice has at most `actionAt`");
    if (run.interruption === undefined && !isTerminal(run.status)) {
      await deps.store.update(run.id, { interruption: { attempt: currentAttempt(run), noticedAt: Date.now(), ...(body.data.actionAt !== undefined ? { actionAt: body.data.actionAt } : {}) } });
    }
    sendJson(ctx.res, 200, { recorded: true });
  });

  router.add("POST", `${base}/finish`, async (ctx) => {
    const run = await auth(ctx);
    const parsed = FinishReport.safeParse(await readJson(ctx.req));
    if (!parsed.success) throw new InvalidInputError(`bad finish report: ${parsed.error.issues[0]?.message ?? ""}`);
    const report = maskFinishReport(parsed.data, await maskerFor(run));
    await flushMaskedLog(run);
    const patch = { exitCode: report.exitCode, reason: report.reason, artifacts: report.artifacts };
    if (report.status === "interrupted") {
      // Not an end: the supervisor resumes the run in a new attempt, from this checkpoint set when
      // the agent saved one (else from the last complete one).
      const now = Date.now();
      const attempt = currentAttempt(run);
      const saved = report.checkpoints ?? [];
      await deps.store.update(run.id, {
        interruption: { attempt, noticedAt: now, ...run.interruption, reportedAt: now },
        ...(saved.length > 0 ? { checkpoint: { attempt, files: saved, savedAt: now } } : {}),
      });
    } else if (report.status === "done") {
      await finishDone(run, report, patch);
    } else if (report.status === "stopped") {
      await deps.store.transition(run.id, run.stopRequested?.startsWith("timed out") === true ? "timed_out" : "stopped", {
        patch: { ...patch, reason: run.stopRequested ?? report.reason },
      });
    } else {
      await finishFailed(run, report, patch);
    }
    maskers.delete(run.id);
    const fresh = await deps.store.get(run.id);
    sendJson(ctx.res, 200, { status: fresh.status });
  });

  /**
   * `done` only once the artifact manifest is written, last, after every file is confirmed in the
   * store; a store that keeps failing (after its own retries) fails the run with the reason.
   */
  async function finishDone(run: Run, report: FinishReport, patch: Partial<Run>): Promise<void> {
    let files;
    try {
      files = (await commitRunManifest(deps, run.id, report.artifacts)).files;
    } catch (err) {
      const reason = `artifact upload failed: ${err instanceof Error ? err.message : String(err)}`;
      await deps.store.transition(run.id, "failed", { from: ["running", "uploading"], patch: { ...patch, artifacts: [], reason } });
      return;
    }
    const artifacts = files.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes }));
    await deps.store.transition(run.id, "done", { from: ["running", "uploading"], patch: { ...patch, artifacts } });
  }

  /**
   * A failed run keeps the artifact files its agent did upload and reports (it fails a run whose
   * artifact was over the upload limits, and sends the others): they get a manifest as a `done`
   * run's do, so they can be downloaded; `depends-on` still takes only successful runs.
   */
  async function finishFailed(run: Run, report: FinishReport, patch: Partial<Run>): Promise<void> {
    if (report.artifacts.length > 0) {
      // Files the store does not hold as reported get no manifest, so no reader offers them; the run fails for its own reason all the same.
      await commitRunManifest(deps, run.id, report.artifacts).catch(() => undefined);
    }
    await deps.store.transition(run.id, "failed", { patch: { ...patch, artifacts: report.artifacts.map((a) => ({ path: a.path, sizeBytes: a.sizeBytes })) } });
  }

  /**
   * Streams one uploaded file into the store within the upload limits: the file alone, and the
   * run's artifacts (or the attempt's checkpoint set) together, counted in Redis for every service
   * process. Past a limit the answer is 413 naming the variable to raise, and nothing of the file
   * stays (the file store removes its partial file, S3 aborts the multipart upload). Returns the
   * size and the SHA-256 of the bytes the store received: the agent compares it with its own and
   * sends the file again on a mismatch, and the manifest keeps it.
   */
  async function storeUpload(ctx: RequestContext, run: Run, kind: UploadKind, rel: string, key: string): Promise<{ sizeBytes: number; sha256: string }> {
    const limit = kindLimit(uploadLimits, kind);
    const declared = declaredLength(ctx.req);
    const refuse = (message: string): DstackError => {
      refuseRest(ctx.res);
      return new DstackError("too_large", message);
    };
    if (declared !== undefined && declared > limit.fileBytes) throw refuse(fileOverLimit(limit, rel, declared));
    const hold = await holdUploadBytes(
      {
        redis: deps.store.redis,
        key: deps.store.key("upload-bytes", run.id, kind === "artifact" ? "artifacts" : `checkpoints-${currentAttempt(run)}`),
        limitBytes: limit.totalBytes,
        ttlSeconds: (deps.maxRunMinutes + 24 * 60) * 60,
      },
      { path: rel, bytes: declared, capBytes: limit.fileBytes },
    );
    if (hold.grantedBytes === undefined) throw refuse(totalOverLimit(limit, rel, declared, hold.othersBytes));
    const limited = limitRequestBody(ctx.req, hold.grantedBytes, () => new DstackError("too_large", "upload over its limit"));
    const hashed = sha256Stream(limited.body);
    try {
      const obj = await deps.artifacts.put(key, hashed.stream);
      await hold.settle(obj.sizeBytes);
      return { sizeBytes: obj.sizeBytes, sha256: hashed.digest() };
    } catch (err) {
      // What the file held before (an earlier copy of it) is held again; a Redis error here must not hide `err`.
      await hold.release().catch(() => undefined);
      // The rest of the body is not read: the connection closes after the answer.
      if (!ctx.req.complete) refuseRest(ctx.res);
      if (!limited.exceeded()) throw err;
      throw refuse(hold.grantedBytes >= limit.fileBytes ? fileOverLimit(limit, rel, undefined) : totalOverLimit(limit, rel, undefined, hold.othersBytes));
    }
  }

  /**
   * An object key (and so a path in the summary, the PR comment and a link) never holds a secret:
   * the agent uploads such a file under its masked path; an agent that did not is refused, and
   * the refusal does not repeat the path.
   */
  async function refuseSecretInPath(run: Run, rel: string): Promise<void> {
    if ((await maskerFor(run)).maskText(rel) !== rel) {
      throw new InvalidInputError("this file's path contains a secret value: upload it under its masked path (a runner agent of this version does)");
    }
  }

  /** The log ended: the masker's held-back bytes (a prefix of a secret form that never completed) are stored. */
  async function flushMaskedLog(run: Run): Promise<void> {
    const rawKey = deps.store.key("run", run.id);
    const held = await deps.store.redis.hget(rawKey, MASK_HELD_FIELD);
    if (held === null) return;
    const rest = (await maskerFor(run)).stream(decodeMaskingState(held)).flush();
    if (rest.length > 0) await deps.logs.append(run.id, run.logBytes, rest);
    await deps.store.redis.multi().hincrby(rawKey, "logBytes", rest.length).hdel(rawKey, MASK_HELD_FIELD).exec();
  }

  router.add("GET", `${base}/inputs/:dep`, async (ctx) => {
    const run = await auth(ctx);
    const dep = inputOf(run, ctx.params.dep ?? "");
    // The dependency's manifest, not a listing: a file from a failed half-upload is not its artifact.
    const files = await trustedArtifacts(deps, dep);
    sendJson(ctx.res, 200, { files: files.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes })) });
  });

  router.add("GET", `${base}/inputs/:dep/file`, async (ctx) => {
    const run = await auth(ctx);
    const dep = inputOf(run, ctx.params.dep ?? "");
    const stream = await deps.artifacts.get(runArtifactKey(dep, ctx.url.searchParams.get("path") ?? ""));
    ctx.res.writeHead(200, { "content-type": "application/octet-stream" });
    await pipeline(stream, ctx.res);
  });
}

/** The agent masks its report; the service masks it again (defence in depth): the reason and the artifact paths are shown on GitHub. */
function maskFinishReport(report: FinishReport, masker: SecretMasker): FinishReport {
  if (masker.size === 0) return report;
  return {
    ...report,
    ...(report.reason !== undefined ? { reason: masker.maskText(report.reason) } : {}),
    artifacts: report.artifacts.map((a) => ({ ...a, path: masker.maskText(a.path) })),
  };
}

function encodeMaskingState(state: MaskingState): string {
  return `${state.covered}:${state.held.toString("base64")}`;
}

function decodeMaskingState(field: string | null | undefined): MaskingState | undefined {
  if (field === null || field === undefined) return undefined;
  const colon = field.indexOf(":");
  const covered = Number(field.slice(0, colon));
  const held = Buffer.from(field.slice(colon + 1), "base64");
  // A damaged field: start afresh rather than fail the log (the agent masked these bytes already).
  if (colon === -1 || !Number.isSafeInteger(covered) || covered < 0 || covered > held.length) return undefined;
  return { held, covered };
}

function inputOf(run: Run, depId: string): string {
  if (!run.inputs.some((i) => i.runId === depId)) throw new NotFoundError(`run ${depId} is not an input of run ${run.id}`);
  return depId;
}

/** `body` passed through unchanged, hashing what flows; `digest()` once the consumer has read it all. */
function sha256Stream(body: Readable): { stream: Readable; digest(): string } {
  const hash = createHash("sha256");
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // A failure on either side destroys both; the store's put sees it through `stream`.
  pipelineCallback(body, stream, () => undefined);
  return { stream, digest: () => hash.digest("hex") };
}
