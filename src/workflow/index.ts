/** The workflow model: pure functions from `.dstack/` text and command lines to workflows, plans and located problems. */
export type * from "./types.js";
export { loadWorkflows, MAX_FILE_BYTES, sourceFileKind } from "./load-workflows.js";
export type { SourceFileKind } from "./load-workflows.js";
export { planRunGroup } from "./plan-run-group.js";
export { applyResourceOverrides } from "./apply-resource-overrides.js";
export { formatProblem, hasErrors } from "./format-problem.js";
export { hasAbsoluteArtifacts, normaliseArtifactPath, normaliseCheckpointPath } from "./artifact-path.js";
export { parseDependencyRef, formatDependencyRef } from "./dependency-ref.js";
export { parseMemorySizeMiB } from "./memory-size.js";
export { EXECUTABLE_PROVIDERS, unsupportedProviderMessage } from "./provider-registry.js";
export { tokenizeCommandLine } from "./command-line/tokenize-command-line.js";
export { parseAdHocRun } from "./command-line/parse-ad-hoc-run.js";
export { parseRunArgs } from "./command-line/parse-run-args.js";
export type { RunArgs } from "./command-line/parse-run-args.js";
export { parseRunCommand } from "./command-line/parse-run-command.js";
export type { RunCommand } from "./command-line/parse-run-command.js";
export { globToRegExp, isTriggeredBy } from "./match-triggers.js";
export type { TriggerEvent } from "./match-triggers.js";
