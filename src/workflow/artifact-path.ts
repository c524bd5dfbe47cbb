import type { Workflow } from "./types.js";

/**
 * Normalises an artifact path: no leading `./`, no trailing `/`, no `.` or empty segments.
 * Absolute paths stay absolute (dstack allowed them for caches; the submit step decides per backend).
 * A `..` segment is refused: an artifact never leaves the working directory.
 */
export function normaliseArtifactPath(path: string): { path: string } | { error: string } {
  const trimmed = path.trim();
  if (trimmed === "") return { error: "an artifact path is empty; write the folder or file to keep, e.g. `model`" };
  const absolute = trimmed.startsWith("/");
  const segments = trimmed.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    return { error: `artifact path \`${trimmed}\` leaves the working directory (\`..\`); artifacts are paths inside it, e.g. \`output\`` };
  }
  if (absolute) return { path: `/${segments.join("/")}` };
  return { path: segments.length === 0 ? "." : segments.join("/") };
}

/** True when a workflow keeps an absolute path (e.g. `/root/.cache/huggingface`): only backends that isolate runs accept it. */
export function hasAbsoluteArtifacts(workflow: Workflow): boolean {
  return workflow.artifacts.some((a) => a.path.startsWith("/"));
}
