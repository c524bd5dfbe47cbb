import { InvalidInputError } from "../errors.js";
import { formatDependencyRef, planRunGroup } from "../workflow/index.js";
import type { TagDependency, Workflow } from "../workflow/types.js";
import { newRunId, type RunStore } from "./run-store.js";
import type { Run, RunInput, Trigger } from "./types.js";

export interface SubmitInput {
  repo: string;
  installationId?: number;
  commit: string;
  ref?: string;
  trigger: Trigger;
  workflows: Workflow[];
  target: string | Workflow;
  variables: Record<string, string>;
  code: Run["code"];
  /** The target's run id when it was chosen earlier (`resolveRunRequest`'s `runId`, `${{ run.name }}`). */
  targetRunId?: string;
  /**
   * Throws unless whoever submits may read `repo`, another repository whose run a dependency reuses
   * (`owner/repo/workflow:tag`): its artifacts become this run's inputs, readable by anyone who can
   * read this repository. Called before the tag is looked up, so a refusal says nothing of its runs.
   */
  mayReuseFrom?(repo: string): Promise<unknown>;
}

/**
 * Plans `target` with its dependencies and creates one run per workflow of the group, all
 * `submitted`. Tag dependencies (`download:v1`, `download:latest`) are resolved against the run
 * store here: a missing or unfinished one refuses the whole group before anything is created.
 * Returns the runs dependencies first, target last; the caller publishes and enqueues them.
 */
export async function submitRunGroup(deps: { store: RunStore }, input: SubmitInput): Promise<Run[]> {
  const plan = planRunGroup(input.workflows, input.target);
  const ids = new Map(plan.nodes.map((n) => [n.workflow.name, n.workflow.name === plan.target ? (input.targetRunId ?? newRunId()) : newRunId()] as const));
  const groupId = ids.get(plan.target) ?? newRunId();

  const reused = new Map<string, RunInput[]>();
  for (const node of plan.nodes) {
    const inputs: RunInput[] = [];
    for (const ref of node.reuse) {
      const repo = ref.repo ?? input.repo;
      if (repo !== input.repo) await input.mayReuseFrom?.(repo);
      const run = await deps.store.resolveTag(repo, ref.workflow, ref.tag);
      const what = `\`${formatDependencyRef(ref)}\` (a dependency of ${node.workflow.name})`;
      if (run === undefined) throw new InvalidInputError(`${what}: ${await missingTagReason(deps.store, repo, ref, input.trigger)}`, "unknown_tag");
      if (run.status !== "done") throw new InvalidInputError(`${what}: run ${run.id} ended ${run.status}, so it has no artifacts to reuse`, "unknown_tag");
      inputs.push({ runId: run.id, workflow: run.workflow.name });
    }
    reused.set(node.workflow.name, inputs);
  }

  const runs: Run[] = [];
  for (const node of plan.nodes) {
    const needs = node.needs.map((n) => ids.get(n) as string);
    const { run } = await deps.store.create({
      id: ids.get(node.workflow.name),
      repo: input.repo,
      installationId: input.installationId,
      workflow: node.workflow,
      commit: input.commit,
      ref: input.ref,
      trigger: input.trigger,
      groupId,
      needs,
      inputs: [...node.needs.map((n) => ({ runId: ids.get(n) as string, workflow: n })), ...(reused.get(node.workflow.name) ?? [])],
      code: input.code,
      variables: input.variables,
    });
    runs.push(run);
  }
  return runs;
}

/**
 * Why a tag dependency found no run. "No run is tagged v1" would be false when `v1` tags runs of
 * other workflows only (`train:v1` with `v1` on a `download` run): that case names them.
 */
async function missingTagReason(store: RunStore, repo: string, ref: TagDependency, trigger: Trigger): Promise<string> {
  if (ref.tag === "latest") return `${ref.workflow ?? "that workflow"} has no successful run in ${repo} yet; run it first`;
  const other = ref.workflow === undefined ? undefined : await store.resolveTag(repo, undefined, ref.tag);
  const of = other === undefined ? "" : ` of ${ref.workflow ?? ""}`;
  const elsewhere = other === undefined ? "" : ` (it tags a run of ${other.workflow.name})`;
  return `no run${of} in ${repo} is tagged ${ref.tag}${elsewhere}; tag one with ${howToTag(trigger, ref.tag)}`;
}

/** How the person who asked tags a run: the CLI from a laptop, a PR comment otherwise. */
function howToTag(trigger: Trigger, tag: string): string {
  return trigger.kind === "api" ? `\`dstack tags add ${tag} <run>\`` : `\`/dstack tag <run> ${tag}\``;
}
