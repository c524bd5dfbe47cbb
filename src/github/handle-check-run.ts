import { isRefusal } from "../errors.js";
import { isTerminal, type Run } from "../runs/types.js";
import { loadWorkflows } from "../workflow/index.js";
import { RERUN_ACTION, STOP_ACTION } from "./check-run-actions.js";
import { canWrite, permissionOf } from "./permissions.js";
import { publishValidation, VALIDATION_EXTERNAL_ID } from "./publish-validation.js";
import { readWorkflowFiles } from "./read-workflow-files.js";
import type { RepoEventDeps, RepositoryPayload } from "./repo-event.js";
import { refuseAsCheckRun, startRunGroup } from "./start-runs.js";

/** The fields of `check_run.rerequested` and `check_run.requested_action` payloads the handler reads. */
export interface CheckRunPayload {
  action: string;
  check_run: { id: number; name: string; head_sha: string; external_id: string | null };
  requested_action?: { identifier: string } | null;
  installation?: { id: number };
  repository: RepositoryPayload;
  sender: { login: string; id?: number; type?: string };
}

/**
 * GitHub's "Re-run" (`check_run.rerequested`) and the check run's buttons
 * (`check_run.requested_action`): Stop on a running run, Re-run on a finished one. GitHub sends
 * these only to the app that created the check run; the run is its `external_id`. Only users with
 * write permission may act; others' clicks are logged and ignored (there is nowhere to reply).
 */
export async function handleCheckRun(deps: RepoEventDeps, payload: CheckRunPayload, deliveryId: string): Promise<void> {
  const { check_run: checkRun, repository, sender } = payload;
  const action = payload.action === "rerequested" ? RERUN_ACTION.identifier : payload.requested_action?.identifier;
  if (action !== STOP_ACTION.identifier && action !== RERUN_ACTION.identifier) return;
  if (sender.type === "Bot") return;
  const owner = repository.owner.login;
  const repo = repository.name;
  const permission = await permissionOf(deps, { owner, repo, user: sender.login, userId: sender.id });
  if (!canWrite(permission)) {
    deps.log.info({ user: sender.login, permission, checkRun: checkRun.id, action }, "check run action refused: no write permission");
    return;
  }
  if (checkRun.external_id === VALIDATION_EXTERNAL_ID) {
    if (action !== RERUN_ACTION.identifier) return;
    const files = await readWorkflowFiles(deps.github, { owner, repo, ref: checkRun.head_sha });
    const loaded = loadWorkflows(files);
    await publishValidation(deps, { repo: repository.full_name, commit: checkRun.head_sha, problems: loaded.problems, workflows: loaded.workflows, started: [] });
    return;
  }
  const run = checkRun.external_id === null ? undefined : await deps.store.find(checkRun.external_id);
  if (run === undefined || run.repo !== repository.full_name) {
    deps.log.warn({ checkRun: checkRun.id, externalId: checkRun.external_id }, "check run action for a run this service does not know");
    return;
  }
  if (action === STOP_ACTION.identifier) {
    if (!isTerminal(run.status)) {
      await deps.store.update(run.id, { stopRequested: `stopped by @${sender.login}` });
      // A run waiting for its dependencies has no supervisor right now: wake one (idempotent by run id).
      await deps.enqueueRun(run.id);
    }
    return;
  }
  await rerun(deps, run, { actor: sender.login, installationId: payload.installation?.id, onceKey: `${deps.prefix}:rerun:${deliveryId}` });
}

/**
 * Runs `run`'s workflow again at its commit, as it ran (resource overrides, variables), with the
 * dependencies `.dstack/` at that commit gives it. A fork's run stays a fork's run: no secrets.
 */
async function rerun(deps: RepoEventDeps, run: Run, input: { actor: string; installationId?: number; onceKey: string }): Promise<void> {
  const [owner = "", repo = ""] = run.repo.split("/");
  const files = await readWorkflowFiles(deps.github, { owner, repo, ref: run.commit });
  const loaded = loadWorkflows(files, { variables: run.variables });
  const workflows = loaded.problems.some((p) => p.severity === "error") ? [] : loaded.workflows.map((w) => (w.name === run.workflow.name ? run.workflow : w));
  try {
    await startRunGroup(deps, {
      onceKey: input.onceKey,
      repo: run.repo,
      installationId: input.installationId ?? run.installationId,
      commit: run.commit,
      ref: run.ref,
      trigger: { kind: "rerun", actor: input.actor, prNumber: run.trigger.prNumber, fork: run.trigger.fork },
      workflows,
      target: run.workflow,
      variables: run.variables,
      code: run.code,
    });
  } catch (err) {
    if (!isRefusal(err)) throw err;
    await refuseAsCheckRun(deps, { repo: run.repo, commit: run.commit, workflow: run.workflow.name, title: `${run.workflow.name} did not start again`, message: err.message });
  }
}
