import type { Redis } from "ioredis";
import type { ArtifactStore } from "../../artifacts/index.js";
import type { CommitAccess } from "../../runs/code-source.js";
import type { LogStore } from "../../runs/log-store.js";
import type { RunStore } from "../../runs/run-store.js";
import type { SecretStore } from "../../runs/secret-store.js";
import type { Workflow } from "../../workflow/index.js";
import type { UserAccess } from "../user-access.js";

/** What the API uses of the secrets store: names out, values in, never values out. */
export type ApiSecretStore = Pick<SecretStore, "list" | "put" | "delete">;

export interface ApiV1Deps {
  store: RunStore;
  logs: LogStore;
  artifacts: ArtifactStore;
  /** For live log follow: each follower blocks on its own duplicate of this connection. */
  redis: Redis;
  /** `DSTACK_API_TOKEN`: the bearer token every route but the OpenAPI document requires. */
  apiToken: string;
  /** Signs the pages' session cookies: with it the API also takes a signed-in browser (api-auth.ts). */
  sessionKey?: Buffer;
  /** "Sign in with GitHub": GitHub users' sessions, CLI tokens and permissions (api-auth.ts). Absent: the API token only. */
  users?: UserAccess;
  publicUrl: string;
  /** The largest code upload (`DSTACK_MAX_CODE_UPLOAD_BYTES`). Default: `DEFAULT_UPLOAD_LIMITS.codeUploadBytes`. */
  maxCodeUploadBytes?: number;
  enqueueRun(runId: string): Promise<void>;
  commitAccess(repo: string, commit: string): Promise<CommitAccess>;
  /** The backend's refusal of a workflow it cannot run (e.g. absolute artifact paths on `local`). */
  check?(workflow: Workflow): string | undefined;
  /** Absent: the secrets routes answer 503. */
  secretStore?: ApiSecretStore;
  now?(): number;
}
