import { DstackError } from "../../errors.js";
import { sendJson, type Router } from "../../http/router.js";
import { newRunId } from "../../runs/run-store.js";
import { isTerminal } from "../../runs/types.js";
import { principalOf, requireApiToken, requireRepo, requireRun } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { runJson } from "./run-json.js";

/**
 * `POST /api/v1/runs/:id/rerun`: the run's workflow again, with the same code and variables. Unlike
 * a check run's "Re-run" (which plans again from `.dstack/` at the commit), the API may have no
 * GitHub access to read the files, so the new run reuses what the original received: the
 * artifacts of its dependency runs (which must have ended `done`), not new runs of them.
 */
export function mountRerunRoute(router: Router, deps: ApiV1Deps): void {
  const now = deps.now ?? Date.now;
  router.add(
    "POST",
    "/api/v1/runs/:id/rerun",
    requireApiToken(deps, async (ctx) => {
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "write")).run;
      const principal = principalOf(ctx);
      if (!isTerminal(run.status)) throw new DstackError("conflict", `run ${run.id} is still ${run.status}; stop it or wait for it to end before running it again`);
      for (const input of run.inputs) {
        const dep = await deps.store.find(input.runId);
        if (dep?.status !== "done") {
          throw new DstackError("conflict", `run ${run.id} depends on ${input.workflow} (run ${input.runId}), which ${dep === undefined ? "no longer exists" : `ended ${dep.status}`}; run the whole group again instead`);
        }
        // Another repository's run, reused: its artifacts go to the new run only for someone who may read it (as at submission).
        if (dep.repo !== run.repo) await requireRepo(deps, principal, dep.repo, "read");
      }
      const id = newRunId();
      const { run: again } = await deps.store.create({
        id,
        repo: run.repo,
        installationId: run.installationId,
        workflow: run.workflow,
        commit: run.commit,
        ref: run.ref,
        trigger: { kind: "rerun", actor: principal.kind === "github" ? principal.login : "api", prNumber: run.trigger.prNumber, fork: run.trigger.fork },
        groupId: id,
        needs: [],
        inputs: run.inputs,
        code: run.code,
        variables: run.variables,
      });
      await deps.enqueueRun(again.id);
      sendJson(ctx.res, 201, { run: runJson(again, deps.publicUrl, now()) });
    }),
  );
}
