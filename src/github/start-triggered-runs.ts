import { isRefusal } from "../errors.js";
import { resolveRunRequest } from "../runs/resolve-run-request.js";
import type { Trigger } from "../runs/types.js";
import type { SourceFile, Workflow } from "../workflow/types.js";
import type { RepoEventDeps } from "./repo-event.js";
import { refuseAsCheckRun, startRunGroup } from "./start-runs.js";

/**
 * Starts each of `workflows` (those whose `on:` matched) at `commit`, the way `/dstack run <name>`
 * would (same checks, same refusals). A workflow that cannot start gets a failed check run saying
 * why. `onceKey(name)` makes each start happen once however often the event is delivered.
 */
export async function startTriggeredRuns(
  deps: RepoEventDeps,
  input: {
    repo: string;
    installationId?: number;
    commit: string;
    ref: string;
    trigger: Trigger;
    files: SourceFile[];
    workflows: Workflow[];
    onceKey(workflow: string): string;
  },
): Promise<string[]> {
  const started: string[] = [];
  for (const w of input.workflows) {
    const resolved = resolveRunRequest(input.files, [w.name], { check: deps.check });
    if (!resolved.ok) {
      await refuseAsCheckRun(deps, { repo: input.repo, commit: input.commit, workflow: w.name, title: `${w.name} did not start`, message: resolved.message });
      continue;
    }
    try {
      await startRunGroup(deps, {
        onceKey: input.onceKey(w.name),
        repo: input.repo,
        installationId: input.installationId,
        commit: input.commit,
        ref: input.ref,
        trigger: input.trigger,
        workflows: resolved.workflows,
        target: resolved.target,
        variables: resolved.variables,
        code: { kind: "github" },
        targetRunId: resolved.runId,
      });
      started.push(w.name);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      await refuseAsCheckRun(deps, { repo: input.repo, commit: input.commit, workflow: w.name, title: `${w.name} did not start`, message: err.message });
    }
  }
  return started;
}
