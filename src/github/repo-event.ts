import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import type { RunStore } from "../runs/run-store.js";
import type { Workflow } from "../workflow/types.js";
import type { GitHubClient } from "./client.js";

/** What the push, tag and check-run handlers need (the app passes the same to each). */
export interface RepoEventDeps {
  github: GitHubClient;
  store: RunStore;
  redis: Redis;
  prefix: string;
  publicUrl: string;
  enqueueRun(runId: string): Promise<void>;
  /** The backend's refusal of a workflow it cannot run (absolute artifacts on local). */
  check(w: Workflow): string | undefined;
  log: Pick<Logger, "info" | "warn">;
}

/** The repository fields of push, create, delete and check_run payloads that handlers read. */
export interface RepositoryPayload {
  name: string;
  full_name: string;
  default_branch?: string;
  fork?: boolean;
  owner: { login: string; name?: string | null };
}
