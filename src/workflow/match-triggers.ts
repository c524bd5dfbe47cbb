import type { Workflow } from "./types.js";

/** What happened in the repository: a push to a branch, or a Git tag created or moved. */
export type TriggerEvent = { kind: "push"; branch: string } | { kind: "tag"; tag: string };

/**
 * Whether `workflow`'s `on:` asks to run for `event`: `on: push` (optionally `branches` globs) for
 * a branch push, `on: tag` (optionally `tags` globs) for a tag. No `on:` means only when asked.
 */
export function isTriggeredBy(workflow: Workflow, event: TriggerEvent): boolean {
  switch (event.kind) {
    case "push":
      return workflow.on.push !== undefined && matchesAny(event.branch, workflow.on.push.branches);
    case "tag":
      return workflow.on.tag !== undefined && matchesAny(event.tag, workflow.on.tag.tags);
    default: {
      const never: never = event;
      throw new Error(`unknown trigger event ${JSON.stringify(never)}`);
    }
  }
}

/** An empty list matches everything. */
function matchesAny(name: string, globs: readonly string[]): boolean {
  return globs.length === 0 || globs.some((g) => globToRegExp(g).test(name));
}

/**
 * GitHub Actions' filter globs: `*` matches within one path segment (not `/`), `**` across
 * segments, `?` one character; everything else is literal.
 * https://docs.github.com/actions/writing-workflows/workflow-syntax-for-github-actions#filter-pattern-cheat-sheet
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
