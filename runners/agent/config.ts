import { z } from "zod";

export interface AgentConfig {
  /** The service's base URL, e.g. `http://127.0.0.1:3000`. */
  serviceUrl: string;
  runId: string;
  token: string;
  /** Where the run's code is unpacked and the workflow runs. */
  workDir: string;
  /** Shared cache (python environments by requirements hash). */
  cacheDir: string;
  /** Minutes without an answer from the service after which the agent stops its run (default 10). */
  lostAfterMinutes: number;
  /**
   * DSTACK_AGENT_CHECK_GPUS: compare the GPUs `nvidia-smi` sees with the run's request and fail the run
   * when they fall short (set by backends that choose a machine for the run: EC2). Default false.
   */
  checkGpus: boolean;
  /**
   * DSTACK_AGENT_METADATA_URL: the EC2 instance metadata service (the user data sets
   * `http://169.254.169.254`; tests a local server). Unset: no spot interruption watch (local backend).
   */
  metadataUrl?: string;
  /**
   * DSTACK_AGENT_LAUNCH_RECORD: a file the agent appends its pid to as it starts (the local backend's
   * `runs/{id}/launches`). Its launcher writes the same line after `spawn` returns; a launcher killed
   * in between would otherwise leave an agent no successor can find.
   */
  launchRecord?: string;
}

const Env = z.object({
  DSTACK_AGENT_URL: z.string().url({ message: "DSTACK_AGENT_URL must be the service's URL" }),
  DSTACK_AGENT_RUN_ID: z.string().regex(/^[a-z0-9-]+$/, { message: "DSTACK_AGENT_RUN_ID must be a run id" }),
  DSTACK_AGENT_TOKEN: z.string().min(16, { message: "DSTACK_AGENT_TOKEN is missing" }),
  DSTACK_AGENT_WORKDIR: z.string().min(1, { message: "DSTACK_AGENT_WORKDIR is missing" }),
  DSTACK_AGENT_CACHE: z.string().min(1, { message: "DSTACK_AGENT_CACHE is missing" }),
  DSTACK_AGENT_LOST_MINUTES: z.coerce.number({ message: "DSTACK_AGENT_LOST_MINUTES must be a number of minutes" }).positive().default(10),
  DSTACK_AGENT_CHECK_GPUS: z.enum(["true", "false"], { message: "DSTACK_AGENT_CHECK_GPUS must be true or false" }).default("false"),
  DSTACK_AGENT_METADATA_URL: z.string().url({ message: "DSTACK_AGENT_METADATA_URL must be the metadata service's URL" }).optional(),
  DSTACK_AGENT_LAUNCH_RECORD: z.string().min(1).optional(),
});

/** The agent's only reader of its environment; reports every bad variable at once. */
export function loadAgentConfig(env: Record<string, string | undefined>): AgentConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new Error(`dstack agent: invalid configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  const e = parsed.data;
  return Object.freeze({
    serviceUrl: e.DSTACK_AGENT_URL.replace(/\/+$/, ""),
    runId: e.DSTACK_AGENT_RUN_ID,
    token: e.DSTACK_AGENT_TOKEN,
    workDir: e.DSTACK_AGENT_WORKDIR,
    cacheDir: e.DSTACK_AGENT_CACHE,
    lostAfterMinutes: e.DSTACK_AGENT_LOST_MINUTES,
    checkGpus: e.DSTACK_AGENT_CHECK_GPUS === "true",
    ...(e.DSTACK_AGENT_METADATA_URL !== undefined ? { metadataUrl: e.DSTACK_AGENT_METADATA_URL.replace(/\/+$/, "") } : {}),
    ...(e.DSTACK_AGENT_LAUNCH_RECORD !== undefined ? { launchRecord: e.DSTACK_AGENT_LAUNCH_RECORD } : {}),
  });
}

/** Variables of the agent itself that must never reach the workflow's processes. */
export const AGENT_ONLY_VARIABLES = ["DSTACK_AGENT_URL", "DSTACK_AGENT_RUN_ID", "DSTACK_AGENT_TOKEN", "DSTACK_AGENT_WORKDIR", "DSTACK_AGENT_CACHE", "DSTACK_AGENT_LOST_MINUTES", "DSTACK_AGENT_CHECK_GPUS", "DSTACK_AGENT_METADATA_URL", "DSTACK_AGENT_LAUNCH_RECORD"];
