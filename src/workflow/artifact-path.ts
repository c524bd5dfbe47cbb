import type { Workflow } from "./types.js";

/** A path with a leading or trailing `/`, an empty segment, or a `.` or `..` segment. */
const NOT_NORMAL = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Normalises an artifact path: no leading `./`, no trailing `/`, no `.` or empty segments.
 * Absolute paths stay absolute (dstack allowed them for caches; the submit step decides per backend).
 * A `..` segment is refused: an artifact never leaves the working directory.
 */
export function normaliseArtifactPath(path: string): { path: string } | { error: string } {
  const trimmed = path.trim();
  if (trimmed === "") return { error: "an artifact path is empty; write the folder or file to keep, e.g. `model`" };
  // Most paths are already normal (`out/model`): return them without splitting (this runs for every artifact).
  if (!NOT_NORMAL.test(trimmed)) return { path: trimmed };
  const absolute = trimmed.startsWith("/");
  const segments = trimmed.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    return { error: `artifact path \`${trimmed}\` leaves the working directory (\`..\`); artifacts are paths inside it, e.g. \`output\`` };
  }
  if (absolute) return { path: `/${segments.join("/")}` };
  return { path: segments.length === 0 ? "." : segments.join("/") };
}

/**
 * Normalises a checkpoint path (`checkpoints:`) like an artifact path, but only inside the working
 * directory: a checkpoint is restored into the working dir of the next attempt, on another machine.
 */
export function normaliseCheckpointPath(path: string): { path: string } | { error: string } {
  const trimmed = path.trim();
  if (trimmed === "") return { error: "a checkpoint path is empty; write the folder or file to save on interruption, e.g. `ckpt`" };
  const normalised = normaliseArtifactPath(trimmed);
  if ("error" in normalised || normalised.path.startsWith("/")) {
    return { error: `checkpoint path \`${trimmed}\` must be a path inside the working directory (no \`..\`, not absolute), e.g. \`ckpt\`` };
  }
  return normalised;
}

/** True when a workflow keeps an absolute path (e.g. `/root/.cache/huggingface`): only backends that isolate runs accept it. */
export function hasAbsoluteArtifacts(workflow: Workflow): boolean {
  return workflow.artifacts.some((a) => a.path.startsWith("/"));
}
