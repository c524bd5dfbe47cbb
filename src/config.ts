import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { readEc2Config, type Ec2Config } from "./ec2-config.js";
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from "./artifacts/upload-limits.js";

export type { Ec2Config } from "./ec2-config.js";

/** GitHub App credentials (Probot's variable names). Absent when GitHub is off. */
export interface GitHubConfig {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  /** REST API base, e.g. `https://api.github.com` or `http://127.0.0.1:8080/api/v3`. */
  apiBaseUrl: string;
  /** Web base (OAuth pages), e.g. `https://github.com` or `http://127.0.0.1:8080`. */
  webUrl: string;
  /** The app's OAuth client (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`): "Sign in with GitHub". Absent: API-token sign-in only. */
  oauth?: { clientId: string; clientSecret: string };
}

export type Role = "all" | "web" | "worker";

export interface Config {
  port: number;
  host: string;
  github?: GitHubConfig;
  redisUrl: string;
  dataDir: string;
  backend: string;
  artifactsUrl: string;
  s3: { region?: string; endpoint?: string; accessKeyId?: string; secretAccessKey?: string };
  publicUrl: string;
  /** Explicit API token; when absent the service generates one into the data dir. */
  apiToken?: string;
  /** Explicit secrets key; when absent the service generates one into the data dir. */
  secretsKey?: string;
  maxRuns: number;
  maxRunMinutes: number;
  /** What agents and the CLI may upload (DSTACK_MAX_ARTIFACT_BYTES, DSTACK_MAX_RUN_ARTIFACT_BYTES, DSTACK_MAX_CHECKPOINT_BYTES, DSTACK_MAX_CODE_UPLOAD_BYTES). */
  uploadLimits: UploadLimits;
  /** The EC2 backend's settings (DSTACK_EC2_*); checked for completeness only when `backend` is `ec2`. */
  ec2: Ec2Config;
  role: Role;
  logLevel: string;
}

const positiveInt = (name: string, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) {
        ctx.addIssue({ code: "custom", message: `${name} must be a positive integer, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const EnvSchema = z.object({
  PORT: positiveInt("PORT", 3000),
  HOST: optionalString,
  APP_ID: optionalString,
  PRIVATE_KEY: optionalString,
  PRIVATE_KEY_PATH: optionalString,
  WEBHOOK_SECRET: optionalString,
  GITHUB_CLIENT_ID: optionalString,
  GITHUB_CLIENT_SECRET: optionalString,
  GHE_HOST: optionalString,
  GHE_PROTOCOL: optionalString,
  REDIS_URL: optionalString,
  DSTACK_DATA_DIR: optionalString,
  DSTACK_BACKEND: optionalString,
  DSTACK_ARTIFACTS: optionalString,
  AWS_REGION: optionalString,
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_ENDPOINT_URL_S3: optionalString,
  AWS_ENDPOINT_URL: optionalString,
  AWS_ENDPOINT_URL_EC2: optionalString,
  DSTACK_EC2_SUBNETS: optionalString,
  DSTACK_EC2_SECURITY_GROUPS: optionalString,
  DSTACK_EC2_AMI: optionalString,
  DSTACK_EC2_INSTANCE_PROFILE: optionalString,
  DSTACK_EC2_KEY_PAIR: optionalString,
  DSTACK_EC2_FAMILIES: optionalString,
  DSTACK_EC2_MAX_PRICE: optionalString,
  DSTACK_EC2_MAX_INSTANCES: positiveInt("DSTACK_EC2_MAX_INSTANCES", 8),
  DSTACK_EC2_SPOT_FALLBACK: optionalString,
  DSTACK_EC2_RESUME_MARKET: optionalString,
  DSTACK_EC2_BUDGET_PER_DAY: optionalString,
  DSTACK_PUBLIC_URL: optionalString,
  DSTACK_API_TOKEN: optionalString,
  DSTACK_SECRETS_KEY: optionalString,
  DSTACK_MAX_RUNS: positiveInt("DSTACK_MAX_RUNS", 4),
  DSTACK_MAX_RUN_MINUTES: positiveInt("DSTACK_MAX_RUN_MINUTES", 1440),
  DSTACK_MAX_ARTIFACT_BYTES: positiveInt("DSTACK_MAX_ARTIFACT_BYTES", DEFAULT_UPLOAD_LIMITS.artifactFileBytes),
  DSTACK_MAX_RUN_ARTIFACT_BYTES: positiveInt("DSTACK_MAX_RUN_ARTIFACT_BYTES", DEFAULT_UPLOAD_LIMITS.runArtifactBytes),
  DSTACK_MAX_CHECKPOINT_BYTES: positiveInt("DSTACK_MAX_CHECKPOINT_BYTES", DEFAULT_UPLOAD_LIMITS.checkpointBytes),
  DSTACK_MAX_CODE_UPLOAD_BYTES: positiveInt("DSTACK_MAX_CODE_UPLOAD_BYTES", DEFAULT_UPLOAD_LIMITS.codeUploadBytes),
  DSTACK_ROLE: optionalString,
  LOG_LEVEL: optionalString,
});

const BACKENDS = ["local", "ec2"];
const ROLES: Role[] = ["all", "web", "worker"];

/**
 * Reads the service's configuration from `env` (DESIGN.md §4). Reports every bad variable in one
 * `ConfigError`; returns a frozen object. The only reader of environment variables in the service.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const problems: string[] = [];
  let parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(issue.message);
    // Read on without the bad numbers (their defaults stand in), so that `PORT=abc DSTACK_BACKEND=gce`
    // reports both in one message rather than one per start.
    const bad = new Set(parsed.error.issues.map((i) => String(i.path[0])));
    parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([k]) => !bad.has(k))));
    if (!parsed.success) throw new ConfigError(`invalid configuration:\n- ${problems.join("\n- ")}`);
  }
  const e = parsed.data;

  const github = readGitHub(e, problems);
  const oauth = readOAuth(e, github !== undefined, problems);

  const backend = e.DSTACK_BACKEND ?? "local";
  if (!BACKENDS.includes(backend)) {
    problems.push(`DSTACK_BACKEND must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(backend)}`);
  }
  const role = (e.DSTACK_ROLE ?? "all") as Role;
  if (!ROLES.includes(role)) {
    problems.push(`DSTACK_ROLE must be one of ${ROLES.join(", ")}, got ${JSON.stringify(e.DSTACK_ROLE)}`);
  }
  const redisUrl = e.REDIS_URL ?? "redis://127.0.0.1:6379";
  if (!/^rediss?:\/\//.test(redisUrl)) {
    problems.push(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(redisUrl)}`);
  }
  const dataDir = path.resolve(cwd, e.DSTACK_DATA_DIR ?? ".dstack");
  const artifactsUrl = e.DSTACK_ARTIFACTS ?? pathToFileURL(path.join(dataDir, "artifacts")).href;
  if (!/^(s3:\/\/[^/]+|file:\/\/\/)/.test(artifactsUrl)) {
    problems.push(
      `DSTACK_ARTIFACTS must be s3://bucket/prefix or file:///absolute/path, got ${JSON.stringify(artifactsUrl)}`,
    );
  }
  const publicUrl = (e.DSTACK_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, "");
  if (!/^https?:\/\//.test(publicUrl)) {
    problems.push(`DSTACK_PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(publicUrl)}`);
  }
  if (e.DSTACK_SECRETS_KEY !== undefined && !isValidSecretsKey(e.DSTACK_SECRETS_KEY)) {
    problems.push("DSTACK_SECRETS_KEY must be at least 32 characters, or base64 of 32 bytes");
  }
  if (e.DSTACK_API_TOKEN !== undefined && e.DSTACK_API_TOKEN.length < 16) {
    problems.push("DSTACK_API_TOKEN must be at least 16 characters");
  }
  const ec2 = readEc2Config(e, { backend, publicUrlSet: e.DSTACK_PUBLIC_URL !== undefined }, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n- ${problems.join("\n- ")}`);

  return Object.freeze({
    port: e.PORT,
    host: e.HOST ?? "0.0.0.0",
    github: github === undefined ? undefined : Object.freeze({ ...github, ...(oauth !== undefined ? { oauth } : {}) }),
    redisUrl,
    dataDir,
    backend,
    artifactsUrl,
    s3: Object.freeze({
      region: e.AWS_REGION,
      endpoint: e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL,
      accessKeyId: e.AWS_ACCESS_KEY_ID,
      secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
    }),
    publicUrl,
    apiToken: e.DSTACK_API_TOKEN,
    secretsKey: e.DSTACK_SECRETS_KEY,
    maxRuns: e.DSTACK_MAX_RUNS,
    maxRunMinutes: e.DSTACK_MAX_RUN_MINUTES,
    uploadLimits: Object.freeze({
      artifactFileBytes: e.DSTACK_MAX_ARTIFACT_BYTES,
      runArtifactBytes: e.DSTACK_MAX_RUN_ARTIFACT_BYTES,
      checkpointBytes: e.DSTACK_MAX_CHECKPOINT_BYTES,
      codeUploadBytes: e.DSTACK_MAX_CODE_UPLOAD_BYTES,
    }),
    ec2,
    role,
    logLevel: e.LOG_LEVEL ?? "info",
  });
}

/** Base64 of 32 bytes is 44 characters, so "at least 32 characters" covers both forms (src/keys.ts). */
function isValidSecretsKey(value: string): boolean {
  return value.length >= 32;
}

type Env = z.infer<typeof EnvSchema>;

function readGitHub(e: Env, problems: string[]): GitHubConfig | undefined {
  let privateKey = e.PRIVATE_KEY;
  if (privateKey === undefined && e.PRIVATE_KEY_PATH !== undefined) {
    try {
      privateKey = readFileSync(e.PRIVATE_KEY_PATH, "utf8");
    } catch (err) {
      problems.push(`PRIVATE_KEY_PATH ${JSON.stringify(e.PRIVATE_KEY_PATH)} cannot be read: ${(err as Error).message}`);
      return undefined;
    }
  }
  const given = { APP_ID: e.APP_ID, "PRIVATE_KEY or PRIVATE_KEY_PATH": privateKey, WEBHOOK_SECRET: e.WEBHOOK_SECRET };
  const missing = Object.entries(given)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length === 3) return undefined;
  if (missing.length > 0) {
    problems.push(`the GitHub App needs APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET together; missing: ${missing.join(", ")}`);
    return undefined;
  }
  if (!/^\d+$/.test(e.APP_ID ?? "")) problems.push(`APP_ID must be a number, got ${JSON.stringify(e.APP_ID)}`);
  // Probot falls back to the secret "development" when none is set; anyone who read its docs can sign with it.
  if (e.WEBHOOK_SECRET?.trim() === "development") problems.push('WEBHOOK_SECRET is "development", Probot\'s placeholder: choose a random secret and set it in the app\'s webhook settings too');
  // Keys pasted into a single-line env var often carry literal "\n".
  const key = (privateKey ?? "").replace(/\\n/g, "\n");
  if (!key.includes("PRIVATE KEY-----")) problems.push("PRIVATE_KEY is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)");
  const host = e.GHE_HOST;
  const protocol = e.GHE_PROTOCOL ?? "https";
  if (protocol !== "http" && protocol !== "https") problems.push(`GHE_PROTOCOL must be http or https, got ${JSON.stringify(protocol)}`);
  const webUrl = host === undefined ? "https://github.com" : `${protocol}://${host}`;
  const apiBaseUrl = host === undefined ? "https://api.github.com" : `${webUrl}/api/v3`;
  return Object.freeze({ appId: e.APP_ID ?? "", privateKey: key, webhookSecret: e.WEBHOOK_SECRET ?? "", apiBaseUrl, webUrl });
}

/**
 * The GitHub App's OAuth client, for "Sign in with GitHub": both variables or neither, and only
 * with the app itself configured (users' permissions are read through the app's installations).
 */
function readOAuth(e: Env, appConfigured: boolean, problems: string[]): { clientId: string; clientSecret: string } | undefined {
  const clientId = e.GITHUB_CLIENT_ID;
  const clientSecret = e.GITHUB_CLIENT_SECRET;
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined || clientSecret === undefined) {
    problems.push(`"Sign in with GitHub" needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET together; missing: ${clientId === undefined ? "GITHUB_CLIENT_ID" : "GITHUB_CLIENT_SECRET"}`);
    return undefined;
  }
  if (!appConfigured) problems.push("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET need the GitHub App configured too (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET)");
  if (!/^[A-Za-z0-9._-]+$/.test(clientId)) problems.push(`GITHUB_CLIENT_ID must be the app's client id (e.g. Iv1.0123abcd...), got ${JSON.stringify(clientId)}`);
  return { clientId, clientSecret };
}
