import {
  applyResourceOverrides,
  EXECUTABLE_PROVIDERS,
  hasErrors,
  loadWorkflows,
  parseRunCommand,
  planRunGroup,
  unsupportedProviderMessage,
} from "../workflow/index.js";
import type { Problem, SourceFile, Workflow } from "../workflow/types.js";
import { DstackError } from "../errors.js";
import { newRunId } from "./run-store.js";

export type ResolvedRunRequest =
  | {
      ok: true;
      workflows: Workflow[];
      target: Workflow;
      variables: Record<string, string>;
      warnings: Problem[];
      /** The id the target's run gets (`submitRunGroup`'s `targetRunId`): `${{ run.name }}` in the files. */
      runId: string;
    }
  | { ok: false; kind: "invalid-files" | "invalid-command" | "refused"; message: string; problems: Problem[]; known: string[] };

/**
 * Turns `run <workflow|provider> [args]` (CLI or PR comment) plus the repository's `.dstack/`
 * files into the workflows to plan, or a refusal a user can act on. Shared by every entry point,
 * so a comment and the CLI accept and refuse exactly the same things.
 */
export function resolveRunRequest(
  files: SourceFile[],
  argv: string[],
  options: { runName?: string; check?: (w: Workflow) => string | undefined } = {},
): ResolvedRunRequest {
  // Chosen before the files are read, so `${{ run.name }}` is the id the run will have.
  const runId = options.runName ?? newRunId();
  const first = loadWorkflows(files);
  const known = first.workflows.map((w) => w.name);
  const fileErrors = first.problems.filter((p) => p.severity === "error");
  const command = parseRunCommand(argv, first.workflows);
  const invalidFiles = (problems: Problem[]): ResolvedRunRequest => ({
    ok: false,
    kind: "invalid-files",
    message: `.dstack/ has ${problems.filter((p) => p.severity === "error").length} error(s); fix them and ask again`,
    problems: problems.filter((p) => p.severity === "error"),
    known,
  });
  let workflows: Workflow[];
  let target: Workflow;
  let variables: Record<string, string> = {};
  let warnings: Problem[] = [];
  switch (command.kind) {
    case "invalid":
      if (fileErrors.length > 0) return invalidFiles(first.problems);
      return { ok: false, kind: "invalid-command", message: command.problems.map((p) => p.message).join("; "), problems: command.problems, known };
    case "ad-hoc":
      workflows = first.workflows;
      target = command.workflow;
      break;
    case "workflow": {
      if (fileErrors.length > 0) return invalidFiles(first.problems);
      const loaded = loadWorkflows(files, { variables: command.run.variables, run: { name: runId, args: command.run.args } });
      if (hasErrors(loaded.problems)) return invalidFiles(loaded.problems);
      const found = loaded.workflows.find((w) => w.name === command.run.workflow);
      if (found === undefined) return invalidFiles(loaded.problems);
      target = applyResourceOverrides(found, command.run.resources);
      workflows = loaded.workflows.map((w) => (w.name === target.name ? target : w));
      variables = command.run.variables;
      warnings = [...command.warnings, ...loaded.problems.filter((p) => p.severity === "warning")];
      break;
    }
    default: {
      const never: never = command;
      throw new Error(`unexpected run command ${JSON.stringify(never)}`);
    }
  }
  let plan;
  try {
    plan = planRunGroup(workflows, target);
  } catch (err) {
    if (err instanceof DstackError) return { ok: false, kind: "invalid-command", message: err.message, problems: [], known };
    throw err;
  }
  for (const node of plan.nodes) {
    const w = node.workflow;
    const refusal =
      !EXECUTABLE_PROVIDERS.has(w.provider) || w.providerSource !== undefined ? unsupportedProviderMessage(w.provider) : options.check?.(w);
    if (refusal !== undefined) {
      // Name the path from the target, so a refused dependency is not mistaken for the target itself.
      const which = w.name === target.name ? `\`${w.name}\`` : `\`${target.name}\` depends on \`${w.name}\`, which cannot run`;
      return { ok: false, kind: "refused", message: `${which}: ${refusal}`, problems: [], known };
    }
  }
  return { ok: true, workflows, target, variables, warnings, runId };
}
