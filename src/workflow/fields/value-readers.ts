import { isScalar, isSeq } from "yaml";
import type { Node } from "yaml";
import { parseMemorySizeMiB } from "../memory-size.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";

/** Where a value problem points: the value when there is one, else its key. */
export function valueOrKey(entry: Entry): Node {
  return entry.value ?? entry.keyNode;
}

/** A scalar value's substituted text; reports anything else (a list, a mapping, nothing). */
export function readText(entry: Entry, ctx: FieldContext, example: string): string | undefined {
  return readTextNode(entry.value, entry.keyNode, `\`${entry.key}\``, ctx, example);
}

/** Like `readText` for a node inside a collection; `label` names it in messages. */
export function readTextNode(node: Node | null, keyNode: Node, label: string, ctx: FieldContext, example: string): string | undefined {
  if (isScalar(node) && node.value !== null) return ctx.text(node);
  const where = node !== null && isScalar(node) ? node : keyNode;
  ctx.report.error(where, "invalid-type", `${label} must be a single value, e.g. \`${example}\`; got ${describeNode(node)}`);
  return undefined;
}

/** A list of scalars, or one scalar as a one-item list; an empty value is an empty list. */
export function readTextList(entry: Entry, ctx: FieldContext, example: string): string[] | undefined {
  if (entry.value === null) return [];
  if (isScalar(entry.value)) return entry.value.value === null ? [] : [ctx.text(entry.value)];
  if (!isSeq(entry.value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`${entry.key}\` must be a list, e.g. \`${example}\`; got ${describeNode(entry.value)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const item of ctx.yaml.items(entry.value)) {
    const text = readTextNode(item, item ?? entry.keyNode, `an item of \`${entry.key}\``, ctx, example);
    if (text !== undefined) out.push(text);
  }
  return out;
}

/** True when `${{ }}` is left in a value: the substitution problem is already reported (or it waits for the run). */
function unresolved(text: string): boolean {
  return text.includes("${{");
}

/** A whole number >= `min`. Accepts `${{ var }}` that yields one. */
export function readInt(entry: Entry, ctx: FieldContext, min: number, example: string): number | undefined {
  const text = readText(entry, ctx, example);
  if (text === undefined || unresolved(text)) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed) && Number(trimmed) >= min) return Number(trimmed);
  ctx.report.error(valueOrKey(entry), "invalid-value", `\`${entry.key}\` must be a whole number${min > 0 ? ` of at least ${min}` : ""}, e.g. \`${example}\`; got \`${text}\``);
  return undefined;
}

const TRUE = new Set(["true", "yes", "on", "y"]);
const FALSE = new Set(["false", "no", "off", "n"]);

/** `true`/`false` (also YAML 1.1's `yes`/`no`/`on`/`off`, which dstack's PyYAML read as booleans). */
export function readBool(entry: Entry, ctx: FieldContext): boolean | undefined {
  const text = readText(entry, ctx, `${entry.key}: true`);
  if (text === undefined || unresolved(text)) return undefined;
  const folded = text.trim().toLowerCase();
  if (TRUE.has(folded)) return true;
  if (FALSE.has(folded)) return false;
  ctx.report.error(valueOrKey(entry), "invalid-value", `\`${entry.key}\` must be \`true\` or \`false\`; got \`${text}\``);
  return undefined;
}

/** A memory size in MiB (`16GB`, `512MB`, `1.5GiB`, or a number of MiB). */
export function readSizeMiB(entry: Entry, ctx: FieldContext, example: string): number | undefined {
  const text = readText(entry, ctx, example);
  if (text === undefined || unresolved(text)) return undefined;
  const mib = parseMemorySizeMiB(text);
  if (mib !== undefined) return mib;
  ctx.report.error(valueOrKey(entry), "invalid-size", `\`${entry.key}\` must be a size such as \`16GB\`, \`512MB\` or \`1.5GiB\`; got \`${text}\``);
  return undefined;
}
