import { GITHUB_LIMITS, render, truncate } from "../render.js";
import type { Problem, Workflow } from "../workflow/types.js";
import { splitRepo, type GitHubClient } from "./client.js";

/** Name of the check run that reports `.dstack/` problems at a commit. */
export const VALIDATION_CHECK_NAME = "dstack: workflows.yaml";
/** Its `external_id`, so a click on "Re-run" validates again. */
export const VALIDATION_EXTERNAL_ID = "workflows.yaml";
/** GitHub takes at most 50 annotations per request; more go in later PATCHes (they accumulate). */
export const ANNOTATIONS_PER_REQUEST = 50;
/** Problems listed in the summary. */
const PROBLEMS_IN_SUMMARY = 30;
/**
 * Annotations sent at most (4 requests): a hostile or generated file with 30,000 problems must not
 * become 600 PATCHes against the installation's rate budget. Errors come first; the summary says how
 * many were left out and `dstack validate` lists them all.
 */
export const MAX_ANNOTATIONS = 4 * ANNOTATIONS_PER_REQUEST;

type Annotation = {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: "failure" | "warning";
  title: string;
  message: string;
};

/**
 * Reports the result of loading `.dstack/` at `commit` as the check run `dstack: workflows.yaml`:
 * `success` (warnings annotated) or `failure` with one annotation per problem at its line.
 */
export async function publishValidation(
  deps: { github: GitHubClient },
  input: { repo: string; commit: string; problems: Problem[]; workflows: Workflow[]; started: string[] },
): Promise<number> {
  const { owner, repo } = splitRepo(input.repo);
  const errors = input.problems.filter((p) => p.severity === "error").length;
  const warnings = input.problems.length - errors;
  // Stable: errors first, each severity in file order.
  const ordered = [...input.problems].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1));
  const annotated = ordered.slice(0, MAX_ANNOTATIONS);
  const summary = truncate(
    render("validation-summary", {
      errors,
      warnings,
      commit: input.commit.slice(0, 12),
      problems: ordered.slice(0, PROBLEMS_IN_SUMMARY),
      problemsOmitted: Math.max(0, annotated.length - PROBLEMS_IN_SUMMARY),
      notAnnotated: input.problems.length - annotated.length,
      annotatedCount: annotated.length,
      workflows: input.workflows.map((w) => ({ name: w.name, triggers: describeTriggers(w) })),
      started: input.started,
    }),
    GITHUB_LIMITS.checkRunSummary,
  );
  const title =
    errors > 0
      ? `${errors} error${errors === 1 ? "" : "s"} in .dstack/`
      : `${input.workflows.length} workflow${input.workflows.length === 1 ? "" : "s"}, valid${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}`;
  const annotations = annotated.map(toAnnotation);
  const batches: Annotation[][] = [];
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) batches.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  const [first = [], ...rest] = batches;
  const created = await deps.github.request("POST /repos/{owner}/{repo}/check-runs", {
    owner,
    repo,
    name: VALIDATION_CHECK_NAME,
    head_sha: input.commit,
    external_id: VALIDATION_EXTERNAL_ID,
    status: "completed",
    conclusion: errors > 0 ? "failure" : "success",
    completed_at: new Date().toISOString(),
    output: { title, summary, ...(first.length > 0 ? { annotations: first } : {}) },
  });
  const id = (created.data as { id: number }).id;
  for (const batch of rest) {
    await deps.github.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
      owner,
      repo,
      check_run_id: id,
      output: { title, summary, annotations: batch },
    });
  }
  return id;
}

function toAnnotation(p: Problem): Annotation {
  const endLine = Math.max(p.line, p.endLine ?? p.line);
  // GitHub accepts columns only on single-line annotations.
  const columns =
    endLine === p.line ? { start_column: p.column, end_column: Math.max(p.column, p.endLine === p.line && p.endColumn !== undefined ? p.endColumn : p.column) } : {};
  return {
    path: p.file,
    start_line: p.line,
    end_line: endLine,
    ...columns,
    annotation_level: p.severity === "error" ? "failure" : "warning",
    title: p.code,
    message: p.message,
  };
}

function describeTriggers(w: Workflow): string {
  const parts: string[] = [];
  if (w.on.push !== undefined) parts.push(w.on.push.branches.length === 0 ? "push" : `push to ${w.on.push.branches.map((b) => `\`${b}\``).join(", ")}`);
  if (w.on.tag !== undefined) parts.push(w.on.tag.tags.length === 0 ? "tag" : `tag ${w.on.tag.tags.map((t) => `\`${t}\``).join(", ")}`);
  return parts.length === 0 ? "when asked" : parts.join("; ");
}
