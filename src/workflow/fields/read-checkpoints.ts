import { isScalar, isSeq } from "yaml";
import { normaliseCheckpointPath } from "../artifact-path.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";
import { readTextNode } from "./value-readers.js";

/**
 * `checkpoints: [ckpt, state/last.pt]` (one path alone is accepted too): what the agent saves when a
 * spot instance gets its interruption notice, restored before the run's next attempt.
 */
export function readCheckpoints(entry: Entry, ctx: FieldContext): string[] {
  if (entry.value === null) return [];
  if (!isSeq(entry.value) && !isScalar(entry.value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`checkpoints\` must be a list of paths, e.g. \`checkpoints: [ckpt]\`; got ${describeNode(entry.value)}`);
    return [];
  }
  const items = isSeq(entry.value) ? ctx.yaml.items(entry.value) : [entry.value];
  const out: string[] = [];
  for (const item of items) {
    const text = readTextNode(item, entry.keyNode, "a checkpoint", ctx, "- ckpt");
    if (text === undefined) continue;
    const normalised = normaliseCheckpointPath(text);
    if ("error" in normalised) {
      ctx.report.error(item ?? entry.keyNode, "invalid-checkpoint-path", normalised.error);
      continue;
    }
    if (out.includes(normalised.path)) {
      ctx.report.warning(item ?? entry.keyNode, "duplicate-checkpoint", `checkpoint \`${normalised.path}\` is listed twice`);
      continue;
    }
    out.push(normalised.path);
  }
  return out;
}
