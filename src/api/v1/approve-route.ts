import { NotFoundError } from "../../errors.js";
import { sendJson, type Router } from "../../http/router.js";
import { approveRun } from "../../runs/approve-run.js";
import { principalOf, requireApiToken, requireRepo } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { runJson } from "./run-json.js";
import { parseInput, RepoName } from "./schemas.js";

/**
 * `POST /api/v1/repos/{owner}/{name}/runs/{id}/approve`: the API's `/dstack approve <run>`, for a run
 * the budget gate holds (DSTACK_EC2_BUDGET_PER_DAY). The repository is in the path so that a run id
 * from one repository can never approve a run of another by mistake.
 */
export function mountApproveRoute(router: Router, deps: ApiV1Deps): void {
  const now = deps.now ?? Date.now;
  router.add(
    "POST",
    "/api/v1/repos/:owner/:name/runs/:id/approve",
    requireApiToken(deps, async (ctx) => {
      const repo = parseInput(RepoName, `${ctx.params.owner}/${ctx.params.name}`, "repository");
      // As `/dstack approve`: write permission (GitHub users; the API token may do everything).
      const principal = principalOf(ctx);
      await requireRepo(deps, principal, repo, "write");
      const run = await deps.store.find(ctx.params.id ?? "");
      if (run === undefined || run.repo !== repo) throw new NotFoundError(`there is no run ${JSON.stringify(ctx.params.id ?? "")} in ${repo}`);
      await approveRun(deps, run, principal.kind === "github" ? { login: principal.login, id: principal.userId } : { login: "api" }, now());
      sendJson(ctx.res, 202, { run: runJson(await deps.store.get(run.id), deps.publicUrl, now()) });
    }),
  );
}
