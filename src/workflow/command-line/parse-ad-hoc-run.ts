import { blankWorkflow } from "../blank-workflow.js";
import { applyResourceOverrides } from "../apply-resource-overrides.js";
import { didYouMean } from "../did-you-mean.js";
import { RENAMED_PROVIDERS } from "../provider-registry.js";
import type { Problem, Workflow } from "../types.js";
import type { AdHocState } from "./ad-hoc-flags.js";
import { AD_HOC_PROVIDERS } from "./ad-hoc-providers.js";
import { argvProblem, COMMAND_LINE_FILE } from "./argv-problem.js";
import { parseArgv } from "./parse-argv.js";

/**
 * Builds a one-off workflow from `PROVIDER ARGS...` (`python train.py -r requirements.txt -a model
 * --gpu 4 --gpu-name K80`), the ad-hoc form shared by the CLI and PR comments. `argv[0]` is the
 * provider (`NAME@BRANCH` is accepted, the branch ignored). Options per provider follow dstack's 2022
 * CLI: `-r/--requirements`, `-e/--env K=V`, `-a/--artifact`, `-w/--working-dir`, `-d/--dep`,
 * `--python/--version`, `--gpu`, `--gpu-name`, `--gpu-memory`, `--cpu`, `--memory`, `--shm-size`,
 * `-i/--interruptible`, `-l/--local`; bash/docker `-c/--command`, `-p/--ports`; torchrun `--nnodes`;
 * curl `URL -o OUTPUT -a ARTIFACT`; docker `IMAGE [COMMAND...]`. For python, torchrun, streamlit and
 * gradio the first positional is the file and every other argument (unknown options included, and
 * everything after `--`) goes to the program. The workflow is named after the provider.
 *
 * Problems use file `<command line>`, line 1, and the column of the offending argument in
 * `argv.join(" ")`; any error means no workflow.
 */
export function parseAdHocRun(argv: string[]): { workflow: Workflow } | { problems: Problem[] } {
  const first = argv[0];
  if (first === undefined || first === "") {
    return { problems: [argvProblem(argv, 0, "missing-provider", `nothing to run: write a workflow or a provider, e.g. \`python train.py\` (providers: ${[...AD_HOC_PROVIDERS.keys()].join(", ")})`)] };
  }
  const base = first.includes("@") ? first.slice(0, first.indexOf("@")) : first;
  const id = RENAMED_PROVIDERS[base] ?? base;
  const provider = AD_HOC_PROVIDERS.get(id);
  if (provider === undefined) {
    const hint = didYouMean(id, AD_HOC_PROVIDERS.keys());
    return { problems: [argvProblem(argv, 0, "unknown-provider", `unknown provider \`${id}\`${hint}; providers: ${[...AD_HOC_PROVIDERS.keys()].join(", ")}`)] };
  }
  const state: AdHocState = { workflow: emptyWorkflow(id), resources: {} };
  const problems: Problem[] = [];
  parseArgv(argv, 1, state, provider.handlers, problems);
  const missing = provider.check(state);
  if (missing !== undefined && problems.length === 0) problems.push(argvProblem(argv, 0, "missing-argument", missing));
  if (problems.length > 0) return { problems };
  return { workflow: applyResourceOverrides(state.workflow, state.resources) };
}

function emptyWorkflow(provider: string): Workflow {
  return blankWorkflow(provider, provider, { file: COMMAND_LINE_FILE, line: 1, column: 1 });
}
