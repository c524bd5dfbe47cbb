import { isMap, isScalar, isSeq } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";

/**
 * Shell lines: a list of strings, or one (multi-line) string, one command per line (a line ending
 * in `\` continues on the next, as in a shell script).
 */
export function readCommands(entry: Entry, ctx: FieldContext): string[] | undefined {
  const value = entry.value;
  if (value === null) return [];
  const text = ctx.shellText ?? ctx.text;
  if (isScalar(value)) return value.value === null ? [] : splitLines(text(value));
  if (!isSeq(value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`${entry.key}\` must be a list of shell commands, e.g. \`${entry.key}: ["pip install -r requirements.txt"]\`; got ${describeNode(value)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const item of ctx.yaml.items(value)) {
    if (isScalar(item) && item.value !== null) out.push(text(item));
    else reportBadCommand(item, entry, ctx);
  }
  return out;
}

function reportBadCommand(item: Node | null, entry: Entry, ctx: FieldContext): void {
  if (isMap(item)) {
    reportTextReadAsMapping(item, "this command", ctx);
    return;
  }
  ctx.report.error(item ?? entry.keyNode, "invalid-type", `an item of \`${entry.key}\` must be a shell command; got ${describeNode(item)}`);
}

/**
 * A list item meant as text that YAML read as a mapping, with the fix in the user's own text: `- echo
 * a: b` is {"echo a": "b"} (the `: `), and inside `[...]` a `{` starts a mapping, as the one of
 * `${{ epochs }}` does in `[python train.py --epochs ${{ epochs }}]`.
 */
export function reportTextReadAsMapping(item: YAMLMap, what: string, ctx: FieldContext): void {
  const [start, end] = ctx.report.range(item);
  const raw = ctx.report.text.slice(start, end).trim();
  const fix = raw.includes("{") ? `\`{\` starts a mapping inside \`[...]\`; quote it: \`${JSON.stringify(raw)}\`` : `of \`: \` in it; quote it: \`- ${JSON.stringify(raw)}\``;
  ctx.report.error(item, "text-read-as-mapping", `${what} is read as a mapping because ${fix}`);
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const line of text.split(/\r?\n/)) {
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)}`;
      continue;
    }
    const full = (pending + line).trimEnd();
    pending = "";
    if (full.trim() !== "") out.push(full);
  }
  if (pending.trim() !== "") out.push(pending.trimEnd());
  return out;
}
