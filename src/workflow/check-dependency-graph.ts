import { closestMatch, didYouMean } from "./did-you-mean.js";
import type { FileReporter } from "./file-reporter.js";
import type { LocatedDependency } from "./fields/field-context.js";
import { findCycles } from "./find-cycles.js";
/** A named workflow (usable or not: a 2021 one still has names to check) and where its dependencies are. */
export interface GraphNode {
  name: string;
  dependencies: readonly LocatedDependency[];
  report: FileReporter;
}

/**
 * Checks `depends-on` across all files: a workflow dependency must name a workflow of this
 * repository (did-you-mean otherwise); a tag dependency whose workflow looks like a typo of one gets
 * a warning (tags may name workflows whose artifacts were uploaded, so they are not errors);
 * every cycle is an error at the dependency that closes it.
 */
export function checkDependencyGraph(nodes: readonly GraphNode[]): void {
  const names = nodes.map((n) => n.name);
  const known = new Set(names);
  for (const node of nodes) {
    for (const { ref, where } of node.dependencies) {
      if (ref.repo !== undefined || ref.workflow === undefined || known.has(ref.workflow)) continue;
      if (ref.kind === "workflow") {
        const hint = didYouMean(ref.workflow, names);
        node.report.error(where, "unknown-dependency", `workflow \`${node.name}\` depends on \`${ref.workflow}\`, which is not defined${hint || `; workflows: ${names.map((n) => `\`${n}\``).join(", ") || "none"}`}`);
        continue;
      }
      const typo = closestMatch(ref.workflow, names);
      if (typo !== undefined) {
        node.report.warning(where, "unknown-dependency", `\`${ref.workflow}:${ref.tag}\` names no workflow of this repository — did you mean \`${typo}:${ref.tag}\`? (A run tagged \`${ref.tag}\` of \`${ref.workflow}\` must exist when \`${node.name}\` runs.)`);
      }
    }
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // Each node's edges once: findCycles asks for them again at every step of its walk.
  const adjacency = new Map<string, string[]>();
  for (const [name, node] of byName) {
    const targets: string[] = [];
    for (const { ref } of node.dependencies) if (ref.kind === "workflow" && ref.repo === undefined) targets.push(ref.workflow);
    adjacency.set(name, targets);
  }
  const edges = (name: string): string[] => adjacency.get(name) ?? [];
  for (const cycle of findCycles([...byName.keys()], edges)) {
    const [first, second] = cycle as [string, string];
    const node = byName.get(first) as GraphNode;
    const at = node.dependencies.find((d) => d.ref.kind === "workflow" && d.ref.workflow === second);
    const message = cycle.length === 2 ? `workflow \`${first}\` depends on itself` : `dependency cycle: ${cycle.join(" -> ")}`;
    node.report.error(at?.where ?? 0, "dependency-cycle", `${message}; a workflow cannot wait for itself, remove one of these dependencies`);
  }
}
