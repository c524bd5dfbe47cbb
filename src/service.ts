import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Probot, ProbotOctokit } from "probot";
import type { Redis } from "ioredis";
import { Queues } from "../queue/queues.js";
import { startReaper } from "../queue/reaper.js";
import { startReconciler } from "../queue/reconciler.js";
import { startWorkers, type Workers } from "../queue/workers.js";
import { createBackend, type RunnerBackend } from "../runners/index.js";
import type { LocalGpu } from "../runners/local/local-gpus.js";
import { mountAgentApi } from "./api/agent-api.js";
import { mountAgentBundle } from "./api/agent-bundle.js";
import { sendErrorPage } from "./api/page-response.js";
import { mountPages } from "./api/pages.js";
import { createGitHubUsers } from "./api/github-users.js";
import { mountApiV1 } from "./api/v1/mount-api-v1.js";
import { createApp } from "./app.js";
import { createArtifactStore, type ArtifactStore } from "./artifacts/index.js";
import type { S3RetryOptions } from "./artifacts/s3-retry-strategy.js";
import type { Config } from "./config.js";
import { AppOctokit } from "./github/app-octokit.js";
import { createCheckRunPublisher } from "./github/check-run-publisher.js";
import type { GitHubClient } from "./github/client.js";
import { checkCommitAccess } from "./github/commit-access.js";
import { findCheckRun } from "./github/find-check-run.js";
import { createGitHubCodeSource } from "./github/github-code-source.js";
import { GitHubRateGate, type RateGateOptions } from "./github/rate-gate.js";
import { rateLimitedClient } from "./github/rate-limited-client.js";
import { githubRetryDelayMs } from "./github/retry-delay.js";
import { createWebhookIntake } from "./github/webhook-intake.js";
import { Router, sendJson } from "./http/router.js";
import { loadKeys, type ServiceKeys } from "./keys.js";
import type { Logger } from "./logger.js";
import { connectRedis } from "./redis.js";
import type { CodeSource } from "./runs/code-source.js";
import { createUploadCodeSource } from "./runs/code-upload.js";
import { LogStore } from "./runs/log-store.js";
import { silentPublisher } from "./runs/publisher.js";
import { recoverLostRuns } from "./runs/recover-lost-runs.js";
import { RunJournal } from "./runs/run-journal.js";
import { RunStore } from "./runs/run-store.js";
import { SecretStore } from "./runs/secret-store.js";
import { storeSecretsProvider, type SecretsProvider } from "./runs/secrets-provider.js";
import { DEFAULT_SUPERVISE_OPTIONS, superviseRun, type SuperviseOptions } from "./runs/supervise-run.js";
import { budgetAdmission } from "./runs/budget.js";
import type { TestPointHook } from "./runs/test-point.js";

export interface ServiceOverrides {
  /** Redis key prefix (tests use one per file). Default `dstack`. */
  prefix?: string;
  /** Probot's Octokit class (tests disable retries and throttling). */
  Octokit?: typeof ProbotOctokit;
  /** Extra environment for local agents. */
  agentEnv?: Record<string, string | undefined>;
  /** The local backend's GPUs instead of what nvidia-smi reports (tests). */
  localGpus?: LocalGpu[];
  supervise?: Partial<SuperviseOptions>;
  heartbeatSeconds?: number;
  reaperIntervalMs?: number;
  /** BullMQ's run-job lock and stalled-job check (tests shorten them; defaults 30 s and 15 s). */
  runLock?: { lockDurationMs?: number; stalledIntervalMs?: number };
  /** Fault tests hold runs at these moments to kill a process there. */
  testPoint?: TestPointHook;
  /** Where runs get their secrets (default: the repository's secrets from `secretStore`, none for forks). */
  secrets?: SecretsProvider;
  /** GitHub's per-installation budgets (tests scale them down; default: GitHub's own, see `RateGateOptions`). */
  githubRate?: RateGateOptions;
  /** How long S3 requests are retried (tests shorten it; default 2 minutes per request). */
  s3Retry?: Pick<S3RetryOptions, "maxRetryMs" | "baseDelayMs" | "maxDelayMs">;
}

export interface Service {
  url: string;
  port: number;
  keys: ServiceKeys;
  store: RunStore;
  artifacts: ArtifactStore;
  queues: Queues;
  redis: Redis;
  /** The repositories' secrets, encrypted under `keys.secretsKey` (DSTACK_SECRETS_KEY). */
  secretStore: SecretStore;
  /**
   * Stops everything in reverse start order; idempotent. Running local agents are left to be adopted.
   * GitHub requests waiting for the rate gate fail at once (`GitHubWaitAbortedError`, transient).
   */
  close(): Promise<void>;
}

/**
 * Builds the service from its configuration (the composition root's body): HTTP server (webhooks,
 * agent API, pages, health) for the web role, BullMQ workers and the reaper for the worker role.
 */
export async function startService(config: Config, log: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  const prefix = overrides.prefix ?? "dstack";
  const closers: Array<() => Promise<void>> = [];
  const redis = connectRedis(config.redisUrl);
  redis.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
  closers.push(async () => void redis.disconnect());
  const keys = loadKeys({ dataDir: config.dataDir, apiToken: config.apiToken, secretsKey: config.secretsKey });
  const artifacts = createArtifactStore(config.artifactsUrl, {
    publicUrl: config.publicUrl,
    signingKey: keys.signingKey,
    s3Config: {
      region: config.s3.region ?? "us-east-1",
      ...(config.s3.endpoint !== undefined ? { endpoint: config.s3.endpoint, forcePathStyle: true } : {}),
      ...(config.s3.accessKeyId !== undefined && config.s3.secretAccessKey !== undefined
        ? { credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey } }
        : {}),
    },
    s3Retry: {
      ...overrides.s3Retry,
      onRetry: (retry) => log.warn({ ...retry }, "S3 request failed; retrying"),
    },
  });
  closers.push(() => artifacts.close());
  // Unconcluded runs are copied to the artifact store, which outlives a Redis that loses its data.
  const journal = new RunJournal({ artifacts, prefix, log });
  const store = new RunStore({ redis, prefix, journal });
  const logs = new LogStore({ redis, prefix, dir: path.join(config.dataDir, "logs") });
  closers.push(() => logs.close());
  const queueConnection = connectRedis(config.redisUrl);
  queueConnection.on("error", () => undefined);
  const queues = new Queues({ connection: queueConnection, prefix: `${prefix}:bull` });
  closers.push(async () => {
    await queues.close();
    queueConnection.disconnect();
  });
  const backend: RunnerBackend = createBackend(config.backend, {
    local: { dataDir: config.dataDir, env: overrides.agentEnv, ...(overrides.localGpus !== undefined ? { gpus: overrides.localGpus } : {}) },
    ec2: { config: config.ec2, serviceTag: config.publicUrl, maxRunMinutes: config.maxRunMinutes, log },
  });
  closers.push(() => backend.close());

  const secretStore = new SecretStore({ redis, prefix, key: keys.secretsKey });
  const secrets: SecretsProvider = overrides.secrets ?? storeSecretsProvider(secretStore);

  let probot: Probot | undefined;
  // Every GitHub request of an installation passes one gate shared by all processes on this Redis.
  // `close()` aborts the waits for it first: a back-off window (up to a minute) would otherwise hold
  // the shutdown and the workers' jobs; the interrupted work is retried later, here or elsewhere.
  const rateGate = new GitHubRateGate({ redis, prefix }, overrides.githubRate);
  const shutdown = new AbortController();
  const guardGitHub = (client: GitHubClient, installationId: number): GitHubClient =>
    rateLimitedClient(client, { gate: rateGate, installationId, log, signal: shutdown.signal });
  if (config.github !== undefined) {
    probot = new Probot({
      appId: config.github.appId,
      privateKey: config.github.privateKey,
      secret: config.github.webhookSecret,
      baseUrl: config.github.apiBaseUrl,
      log: log.child({ name: "probot" }) as never,
      Octokit: overrides.Octokit ?? AppOctokit,
    });
    await probot.load(
      createApp({
        store,
        redis,
        prefix,
        publicUrl: config.publicUrl,
        enqueueRun: (id) => queues.enqueueRun(id),
        check: (w) => backend.check({ workflow: w }),
        guardGitHub,
      }),
    );
  } else {
    log.info("GitHub is off (APP_ID, PRIVATE_KEY and WEBHOOK_SECRET are not set): the API and the CLI still work");
  }
  const github = async (installationId: number): Promise<GitHubClient> => {
    if (probot === undefined) throw new Error("GitHub is not configured");
    return guardGitHub((await probot.auth(installationId)) as unknown as GitHubClient, installationId);
  };
  const code: CodeSource = createGitHubCodeSource({ github, fallback: createUploadCodeSource({ artifacts }) });

  // "Sign in with GitHub" and per-user permissions, when the app's OAuth client is configured.
  const githubUsers =
    config.github?.oauth === undefined || probot === undefined
      ? undefined
      : createGitHubUsers({ github: config.github, oauth: config.github.oauth, probot, redis, prefix, secretsKey: keys.secretsKey, publicUrl: config.publicUrl, log });

  // Web role: one node:http server. Routes are matched by a tiny router (the webhook path is hot).
  let server: Server | undefined;
  let port = config.port;
  if (config.role !== "worker") {
    const router = new Router(log, sendErrorPage);
    router.add("GET", "/healthz", async (ctx) => {
      // The 1 s timer is cleared once Redis answers: left running, it held a process that was
      // done (a closed service, Jest's worker) alive for up to a second after each probe.
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        redis.ping().then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), 1000);
        }),
      ]);
      clearTimeout(timer);
      sendJson(ctx.res, ok ? 200 : 503, { status: ok ? "ok" : "redis unavailable", github: config.github !== undefined });
    });
    if (config.github !== undefined) {
      const intake = createWebhookIntake({
        secret: config.github.webhookSecret,
        redis,
        prefix,
        enqueue: (job) => queues.enqueueEvent(job),
        log,
      });
      router.add("POST", "/api/github/webhooks", (ctx) => intake(ctx.req, ctx.res));
    }
    mountAgentApi(router, {
      store,
      logs,
      artifacts,
      code,
      secrets,
      maxRunMinutes: config.maxRunMinutes,
      heartbeatSeconds: overrides.heartbeatSeconds ?? 5,
      uploadLimits: config.uploadLimits,
      ...(overrides.testPoint !== undefined ? { testPoint: overrides.testPoint } : {}),
    });
    mountAgentBundle(router, { store });
    mountApiV1(router, {
      store,
      logs,
      artifacts,
      redis,
      apiToken: keys.apiToken,
      sessionKey: keys.signingKey,
      publicUrl: config.publicUrl,
      maxCodeUploadBytes: config.uploadLimits.codeUploadBytes,
      enqueueRun: (id) => queues.enqueueRun(id),
      commitAccess: (repo, commit) =>
        checkCommitAccess(
          { app: probot === undefined ? undefined : async () => (await (probot as Probot).auth()) as unknown as GitHubClient, installation: github },
          repo,
          commit,
        ),
      check: (w) => backend.check({ workflow: w }),
      secretStore,
      ...(githubUsers !== undefined ? { users: githubUsers.users } : {}),
    });
    mountPages(router, {
      store,
      logs,
      artifacts,
      apiToken: keys.apiToken,
      signingKey: keys.signingKey,
      publicUrl: config.publicUrl,
      secretStore,
      ...(githubUsers !== undefined ? { users: githubUsers.users, githubLogin: githubUsers.login } : {}),
    });
    server = createServer((req, res) => {
      router.handle(req, res).then(
        (handled) => {
          if (!handled) router.notFound(req, res);
        },
        (err: unknown) => {
          log.error({ err }, "request failed");
          if (!res.headersSent) sendJson(res, 500, { code: "internal", message: "internal error" });
        },
      );
    });
    server.keepAliveTimeout = 65_000;
    const s = server;
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(config.port, config.host, () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    );
  }
  const agentUrl = config.backend === "local" ? `http://127.0.0.1:${port}` : config.publicUrl;

  // Worker role: webhook events, run supervisors and the reaper.
  if (config.role !== "web") {
    const superviseOptions: SuperviseOptions = { ...DEFAULT_SUPERVISE_OPTIONS, maxRunMinutes: config.maxRunMinutes, ...overrides.supervise };
    const budget = config.ec2.budgetPerDay;
    const admission = budget === undefined ? undefined : budgetAdmission({ store, budget });
    const workers: Workers = startWorkers({
      connection: queueConnection,
      prefix: `${prefix}:bull`,
      maxRuns: config.maxRuns,
      ...overrides.runLock,
      log,
      retryDelayMs: (err, attempt) => githubRetryDelayMs(err, attempt),
      processEvent: async (job) => {
        if (probot === undefined) return;
        await probot.receive({ id: job.id, name: job.name, payload: job.payload } as never);
      },
      processRun: (job, signal) =>
        superviseRun(
          {
            store,
            logs,
            artifacts,
            backend,
            publisherFor: async (run) =>
              run.installationId === undefined || probot === undefined
                ? silentPublisher
                : createCheckRunPublisher({ github: await github(run.installationId), artifacts, store, publicUrl: config.publicUrl }),
            agentEnv: (run, token) => ({ DSTACK_AGENT_URL: agentUrl, DSTACK_AGENT_RUN_ID: run.id, DSTACK_AGENT_TOKEN: token }),
            enqueueRun: (id) => queues.enqueueRun(id),
            ...(admission !== undefined ? { admission } : {}),
            log,
            options: superviseOptions,
            retryDelayMs: (err, attempt) => githubRetryDelayMs(err, attempt),
            ...(overrides.testPoint !== undefined ? { testPoint: overrides.testPoint } : {}),
          },
          job.runId,
          signal,
        ),
    });
    closers.push(() => workers.close());
    const reaper = startReaper(
      {
        activeRunIds: () => store.unconcludedRunIds(),
        hasRunJob: (id) => queues.hasRunJob(id),
        enqueueRun: (id) => queues.enqueueRun(id),
        recoverLost: () =>
          recoverLostRuns({
            store,
            journal,
            findCheckRun: async (entry) => (entry.installationId === undefined || probot === undefined ? undefined : findCheckRun(await github(entry.installationId), entry)),
            log,
          }),
        log,
      },
      overrides.reaperIntervalMs,
    );
    closers.push(() => reaper.close());
    // Backends whose machines can outlive this process (EC2) end the orphans every 2 minutes and at start-up.
    const reconcile = backend.reconcile?.bind(backend);
    if (reconcile !== undefined) {
      const reconciler = startReconciler({
        connection: queueConnection,
        prefix: `${prefix}:bull`,
        log,
        reconcile: async () => {
          const report = await reconcile({
            runState: async (id) => {
              const run = await store.find(id);
              return run === undefined ? undefined : { status: run.status, machineId: run.machine?.id };
            },
          });
          for (const t of report.terminated) log.info({ instanceId: t.instanceId, runId: t.runId, reason: t.reason }, "orphaned machine terminated");
        },
      });
      closers.push(() => reconciler.close());
    }
  }

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    keys,
    store,
    artifacts,
    queues,
    redis,
    secretStore,
    close() {
      closed ??= (async () => {
        shutdown.abort();
        for (const close of closers.reverse()) {
          try {
            await close();
          } catch (err) {
            log.warn({ err }, "a shutdown step failed; continuing with the others");
          }
        }
      })();
      return closed;
    },
  };
}
