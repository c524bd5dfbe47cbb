import { InvalidInputError } from "../errors.js";
import { didYouMean } from "./did-you-mean.js";
import { findCycles } from "./find-cycles.js";
import type { RunGroupNode, RunGroupPlan, TagDependency, Workflow } from "./types.js";

/**
 * The run group for `target`: the target and every workflow it depends on by name (transitively),
 * each once however many workflows need it (a DAG, diamonds included), dependencies before their
 * dependents: depth-first in `depends-on` order, so the order is deterministic, and the target last.
 * Tag dependencies (`name:tag`, `:tag`, another repository's workflow) are not run: they are listed in
 * `reuse` for the caller to resolve against the run store.
 *
 * `target` is a workflow name, or a workflow object (an ad-hoc run, which then replaces any workflow
 * of the same name).
 *
 * @throws InvalidInputError `unknown_workflow` when the target is not defined (naming the closest
 *   match and what exists), `unknown_dependency` for a dependency on an undefined workflow, and
 *   `dependency_cycle` for a cycle (naming it). `loadWorkflows` reports all of these as problems
 *   already; a caller that checked `hasErrors` first only meets the unknown target.
 */
export function planRunGroup(workflows: Workflow[], target: string | Workflow): RunGroupPlan {
  const byName = new Map<string, Workflow>();
  for (const w of workflows) if (!byName.has(w.name)) byName.set(w.name, w);
  if (typeof target !== "string") byName.set(target.name, target);
  const targetName = typeof target === "string" ? target : target.name;
  if (!byName.has(targetName)) {
    const names = [...byName.keys()];
    const hint = didYouMean(targetName, names);
    const list = names.length > 0 ? `; workflows: ${names.map((n) => `\`${n}\``).join(", ")}` : "; there are no workflows (is `.dstack/workflows.yaml` there?)";
    throw new InvalidInputError(`workflow \`${targetName}\` is not defined${hint}${list}`, "unknown_workflow");
  }

  const nodes: RunGroupNode[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  // Iterative depth-first post-order: long dependency chains must not overflow the stack.
  const stack: Array<{ name: string; next: number; needs: string[] }> = [];
  const enter = (name: string): void => {
    visiting.add(name);
    stack.push({ name, next: 0, needs: needsOf(byName.get(name) as Workflow) });
  };
  enter(targetName);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as { name: string; next: number; needs: string[] };
    if (frame.next < frame.needs.length) {
      const dep = frame.needs[frame.next++] as string;
      if (done.has(dep)) continue;
      if (visiting.has(dep)) throw cycleError(byName, dep);
      if (!byName.has(dep)) {
        const hint = didYouMean(dep, [...byName.keys()]);
        throw new InvalidInputError(`workflow \`${frame.name}\` depends on \`${dep}\`, which is not defined${hint}`, "unknown_dependency");
      }
      enter(dep);
      continue;
    }
    stack.pop();
    visiting.delete(frame.name);
    done.add(frame.name);
    const workflow = byName.get(frame.name) as Workflow;
    nodes.push({ workflow, needs: frame.needs, reuse: reuseOf(workflow) });
  }
  return { target: targetName, nodes };
}

function needsOf(workflow: Workflow): string[] {
  const needs: string[] = [];
  for (const dep of workflow.dependsOn) {
    if (dep.kind === "workflow" && dep.repo === undefined && !needs.includes(dep.workflow)) needs.push(dep.workflow);
  }
  return needs;
}

function reuseOf(workflow: Workflow): TagDependency[] {
  // A loop, not `flatMap`: that made an array for every dependency, and most are workflows run here.
  const reuse: TagDependency[] = [];
  for (const dep of workflow.dependsOn) {
    if (dep.kind === "tag") reuse.push(dep);
    // Another repository's workflow cannot run here: reuse its latest successful run.
    else if (dep.repo !== undefined) reuse.push({ kind: "tag", tag: "latest", workflow: dep.workflow, repo: dep.repo });
  }
  return reuse;
}

function cycleError(byName: Map<string, Workflow>, from: string): InvalidInputError {
  const cycles = findCycles([from, ...[...byName.keys()].filter((n) => n !== from)], (n) => (byName.has(n) ? needsOf(byName.get(n) as Workflow) : []));
  const cycle = cycles.find((c) => c.includes(from)) ?? cycles[0] ?? [from, from];
  return new InvalidInputError(`dependency cycle: ${cycle.join(" -> ")}`, "dependency_cycle");
}
