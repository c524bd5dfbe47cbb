import { didYouMean } from "../did-you-mean.js";
import { RENAMED_PROVIDERS } from "../provider-registry.js";
import type { Problem, Workflow } from "../types.js";
import { AD_HOC_PROVIDERS } from "./ad-hoc-providers.js";
import { argvProblem } from "./argv-problem.js";
import { hostileCharacterProblem } from "./hostile-characters.js";
import { parseAdHocRun } from "./parse-ad-hoc-run.js";
import { parseRunArgs } from "./parse-run-args.js";
import type { RunArgs } from "./parse-run-args.js";

export type RunCommand =
  | { kind: "workflow"; run: RunArgs; warnings: Problem[] }
  | { kind: "ad-hoc"; workflow: Workflow }
  | { kind: "invalid"; problems: Problem[] };

/**
 * `run (WORKFLOW | PROVIDER[@BRANCH]) ARGS...`: a workflow of `known` wins over a provider of the
 * same name (as in dstack); otherwise a provider gives an ad-hoc run (`parseAdHocRun`). An argument
 * with an invisible character or a look-alike dash is refused first (`hostileCharacterProblem`).
 */
export function parseRunCommand(argv: string[], known: Workflow[]): RunCommand {
  const hostile = hostileCharacterProblem(argv);
  if (hostile !== undefined) return { kind: "invalid", problems: [hostile] };
  const first = argv[0] ?? "";
  if (known.some((w) => w.name === first)) {
    const result = parseRunArgs(argv, known);
    return "problems" in result ? { kind: "invalid", problems: result.problems } : { kind: "workflow", ...result };
  }
  const provider = first.split("@")[0] as string;
  if (AD_HOC_PROVIDERS.has(provider) || RENAMED_PROVIDERS[provider] !== undefined) {
    const result = parseAdHocRun(argv);
    return "problems" in result ? { kind: "invalid", problems: result.problems } : { kind: "ad-hoc", workflow: result.workflow };
  }
  const names = known.map((w) => w.name);
  const hint = didYouMean(first, [...names, ...AD_HOC_PROVIDERS.keys()]);
  const list = names.length > 0 ? `workflows: ${names.map((n) => `\`${n}\``).join(", ")}; ` : "";
  const message = first === ""
    ? `nothing to run: write a workflow or a provider, e.g. \`run train\` or \`run python train.py\``
    : `\`${first}\` is neither a workflow nor a provider${hint}; ${list}providers: ${[...AD_HOC_PROVIDERS.keys()].join(", ")}`;
  return { kind: "invalid", problems: [argvProblem(argv, 0, "unknown-workflow", message)] };
}
