import { didYouMean } from "../did-you-mean.js";
import type { Problem, ResourceOverrides, Workflow } from "../types.js";
import { argColumn, argvProblem, COMMAND_LINE_FILE } from "./argv-problem.js";
import { parseArgv } from "./parse-argv.js";
import type { FlagSpec } from "./parse-argv.js";
import { resourceFlags } from "./resource-flags.js";

/** `run <workflow> ARGS`, split. */
export interface RunArgs {
  /** The workflow to run. */
  workflow: string;
  /** Variable overrides by the variable's own name (`--epochs 5` -> `{epochs: "5"}`); pass as `LoadOptions.variables`. */
  variables: Record<string, string>;
  /** Resource options (`--gpu 2`, `-i`); apply to the target with `applyResourceOverrides`. */
  resources: ResourceOverrides;
  /** Everything else, in order: the workflow's `${{ run.args }}`; pass as `LoadOptions.run.args`. */
  args: string[];
}

interface State {
  variables: Record<string, string>;
  resources: ResourceOverrides;
  args: string[];
  firstArg?: number;
}

/**
 * Splits `argv` = `[WORKFLOW, ...ARGS]` (what follows `dstack run` or `/dstack run`, the CLI's own
 * options such as `--follow` already removed) for a workflow of `known` (as loaded, so that each
 * knows its `variables`).
 *
 * Each `--NAME VALUE` / `--NAME=VALUE` naming one of the workflow's variables (as written, or with
 * `_` for `-`; or a unique prefix of one, as argparse allowed: `--epoch` for `epochs`) is a variable
 * override. A variable wins over a resource option of the same name (`--gpu 2` sets variable `gpu`
 * when the workflow has one, as in 2022). Otherwise `--gpu`, `--gpu-name`, `--gpu-memory`, `--cpu`,
 * `--memory`, `--shm-size`, `-i/--interruptible`, `-l/--local` override the workflow's resources.
 * Everything else (and everything after `--`) goes to `args`, for `${{ run.args }}`; a warning says
 * so when the workflow does not use `${{ run.args }}`.
 *
 * Then: `loadWorkflows(files, {variables: run.variables, run: {name, args: run.args}})`, plan, and
 * `applyResourceOverrides(target, run.resources)`.
 *
 * @returns `{run, warnings}`, or `{problems}` (at least one error: unknown workflow, a variable or
 *   resource option without a valid value, an ambiguous abbreviation), located on the joined line.
 */
export function parseRunArgs(argv: string[], known: Workflow[]): { run: RunArgs; warnings: Problem[] } | { problems: Problem[] } {
  const name = argv[0] ?? "";
  const workflow = known.find((w) => w.name === name);
  if (workflow === undefined) {
    const names = known.map((w) => w.name);
    const hint = didYouMean(name, names);
    const list = names.length > 0 ? `; workflows: ${names.map((n) => `\`${n}\``).join(", ")}` : "";
    return { problems: [argvProblem(argv, 0, "unknown-workflow", `workflow \`${name}\` is not defined${hint}${list}`)] };
  }
  const state: State = { variables: {}, resources: {}, args: [] };
  const problems: Problem[] = [];
  const variableFlags = Object.keys(workflow.variables ?? {}).map((variable): FlagSpec<State> => {
    const names = [...new Set([`--${variable}`, `--${variable.replace(/-/g, "_")}`, `--${variable.replace(/_/g, "-")}`])];
    return {
      names,
      value: "VALUE",
      apply(s, value) {
        s.variables[variable] = value;
        return undefined;
      },
    };
  });
  parseArgv(
    argv,
    1,
    state,
    {
      flags: [...variableFlags, ...resourceFlags<State>()],
      prefixFlags: variableFlags,
      other(s, token, at) {
        s.firstArg ??= at.index;
        s.args.push(token);
        return undefined;
      },
    },
    problems,
  );
  if (problems.some((p) => p.severity === "error")) return { problems };
  const warnings: Problem[] = [];
  if (state.args.length > 0 && workflow.usesRunArgs !== true) {
    const column = argColumn(argv, state.firstArg ?? 1);
    warnings.push({
      file: COMMAND_LINE_FILE,
      line: 1,
      column,
      severity: "warning",
      code: "unused-run-args",
      message: `\`${state.args.join(" ")}\` is not an option of \`${name}\` and it does not use \`\${{ run.args }}\`, so these arguments are ignored${variableHint(state.args, workflow)}`,
    });
  }
  return { run: { workflow: name, variables: state.variables, resources: state.resources, args: state.args }, warnings };
}

function variableHint(args: readonly string[], workflow: Workflow): string {
  const option = args.find((a) => a.startsWith("--"));
  const variables = Object.keys(workflow.variables ?? {});
  if (option === undefined || variables.length === 0) return "";
  const hint = didYouMean(option.slice(2), variables);
  return hint ? ` (\`${option}\`${hint.replace(" — ", ": ")})` : `; its variables: ${variables.map((v) => `\`--${v}\``).join(", ")}`;
}
