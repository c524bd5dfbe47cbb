import { DstackError } from "../errors.js";
import type { GitHubIdentity } from "../github/permissions.js";
import type { RunStore } from "./run-store.js";
import type { Run } from "./types.js";

export interface ApproveDeps {
  store: Pick<RunStore, "update">;
  enqueueRun(runId: string): Promise<void>;
}

/**
 * Lets a run held by the budget gate start (`/dstack approve <run>`, `POST .../approve`,
 * `dstack approve`): records who approved it and hands it to a supervisor again. `by` is a GitHub
 * user (login and numeric id: the login may be renamed and taken by someone else, the id is who
 * approved) or `{ login: "api" }`; callers check that it may write to the repository.
 */
export async function approveRun(deps: ApproveDeps, run: Run, by: GitHubIdentity, nowMs: number): Promise<void> {
  if (run.status !== "submitted" || run.approval?.state !== "waiting") {
    throw new DstackError("conflict", `run \`${run.id}\` is not waiting for approval (it is ${run.status}${run.approval?.state === "approved" ? ", approved already" : ""})`);
  }
  await deps.store.update(run.id, { approval: { state: "approved", by: by.login, ...(by.id === undefined ? {} : { byId: by.id }), at: nowMs } });
  await deps.enqueueRun(run.id);
}
