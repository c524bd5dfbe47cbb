import { isMap, isScalar, isSeq } from "yaml";
import type { Node } from "yaml";
import { didYouMean } from "../did-you-mean.js";
import type { Triggers } from "../types.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";
import { readTextList, readTextNode } from "./value-readers.js";

const TRIGGERS = ["push", "tag"] as const;
type TriggerName = (typeof TRIGGERS)[number];
const FILTER: Record<TriggerName, "branches" | "tags"> = { push: "branches", tag: "tags" };
const EXAMPLE = "on: {push: {branches: [main]}, tag: {tags: [\"v*\"]}}";

/** `on: push`, `on: [push, tag]`, or `on: {push: {branches: [...]}, tag: {tags: [...]}}` (DESIGN.md §2). */
export function readTriggers(entry: Entry, ctx: FieldContext): Triggers {
  const triggers: Triggers = {};
  const value = entry.value;
  if (value === null) return triggers;
  if (isMap(value)) {
    for (const item of ctx.yaml.entries(value)) {
      const name = triggerName(item.key, item.keyNode, ctx);
      if (name !== undefined) setTrigger(triggers, name, readFilter(name, item, ctx));
    }
    return triggers;
  }
  const items: Array<Node | null> = isSeq(value) ? ctx.yaml.items(value) : [value];
  if (!isSeq(value) && !isScalar(value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`on\` must name triggers, e.g. \`${EXAMPLE}\`; got ${describeNode(value)}`);
    return triggers;
  }
  for (const item of items) {
    const text = readTextNode(item, entry.keyNode, "a trigger", ctx, "on: [push, tag]");
    if (text === undefined) continue;
    const name = triggerName(text.trim(), item ?? entry.keyNode, ctx);
    if (name !== undefined) setTrigger(triggers, name, []);
  }
  return triggers;
}

function triggerName(text: string, where: Node, ctx: FieldContext): TriggerName | undefined {
  if ((TRIGGERS as readonly string[]).includes(text)) return text as TriggerName;
  const hint = didYouMean(text, TRIGGERS);
  ctx.report.error(where, "unknown-trigger", `unknown trigger \`${text}\`${hint || "; triggers are `push` and `tag`"}`);
  return undefined;
}

function readFilter(name: TriggerName, entry: Entry, ctx: FieldContext): string[] {
  const value = entry.value;
  if (value === null) return [];
  const filter = FILTER[name];
  if (!isMap(value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`${name}\` takes \`${filter}\` (globs), e.g. \`${name}: {${filter}: [main]}\`; got ${describeNode(value)}`);
    return [];
  }
  let globs: string[] = [];
  for (const item of ctx.yaml.entries(value)) {
    if (item.key === filter) globs = readTextList(item, ctx, `${filter}: [main]`) ?? [];
    else ctx.report.error(item.keyNode, "unknown-field", `unknown field \`${item.key}\` of trigger \`${name}\`${didYouMean(item.key, [filter]) || `; it takes \`${filter}\``}`);
  }
  return globs;
}

function setTrigger(triggers: Triggers, name: TriggerName, globs: string[]): void {
  if (name === "push") triggers.push = { branches: globs };
  else triggers.tag = { tags: globs };
}
