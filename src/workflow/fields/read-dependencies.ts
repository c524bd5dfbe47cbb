import { isMap, isScalar, isSeq } from "yaml";
import type { Node } from "yaml";
import { didYouMean } from "../did-you-mean.js";
import { formatDependencyRef, parseDependencyRef, parseTagRef } from "../dependency-ref.js";
import type { DependencyRef, TagDependency } from "../types.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext, LocatedDependency } from "./field-context.js";
import { readBool, readTextNode } from "./value-readers.js";

const OBJECT_KEYS = ["workflow", "tag", "mount"] as const;

/**
 * `depends-on:` / `deps:` — a list of `name`, `name:tag`, `:tag`, `{workflow}`, `{tag}` (with
 * optional `mount`), or one such string. The 2021 mapping form is reported by the caller.
 */
export function readDependencies(entry: Entry, ctx: FieldContext): LocatedDependency[] {
  if (entry.value === null) return [];
  if (!isSeq(entry.value) && !isScalar(entry.value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`${entry.key}\` must be a list, e.g. \`${entry.key}: [download, "prepare:latest"]\`; got ${describeNode(entry.value)}`);
    return [];
  }
  const items = isSeq(entry.value) ? ctx.yaml.items(entry.value) : [entry.value];
  const out: LocatedDependency[] = [];
  for (const item of items) {
    const ref = isMap(item) ? readObject(item, ctx) : readString(item, entry, ctx);
    if (ref === undefined) continue;
    const where = item ?? entry.keyNode;
    const text = formatDependencyRef(ref);
    if (out.some((d) => formatDependencyRef(d.ref) === text)) {
      ctx.report.warning(where, "duplicate-dependency", `dependency \`${text}\` is listed twice`);
      continue;
    }
    out.push({ ref, where });
  }
  return out;
}

function readString(item: Node | null, entry: Entry, ctx: FieldContext): DependencyRef | undefined {
  const text = readTextNode(item, entry.keyNode, `an item of \`${entry.key}\``, ctx, "- download");
  if (text === undefined) return undefined;
  const ref = parseDependencyRef(text);
  if ("error" in ref) {
    ctx.report.error(item ?? entry.keyNode, "invalid-dependency", ref.error);
    return undefined;
  }
  return ref;
}

function readObject(item: Node, ctx: FieldContext): DependencyRef | undefined {
  if (!isMap(item)) return undefined;
  let workflow: DependencyRef | undefined;
  let tag: TagDependency | undefined;
  let mount: boolean | undefined;
  let ok = true;
  for (const field of ctx.yaml.entries(item)) {
    const where = field.value ?? field.keyNode;
    if (field.key === "workflow" || field.key === "tag") {
      const text = readTextNode(field.value, field.keyNode, `\`${field.key}\``, ctx, `${field.key}: download`);
      if (text === undefined) {
        ok = false;
        continue;
      }
      const ref = field.key === "workflow" ? parseDependencyRef(text) : parseTagRef(text);
      if ("error" in ref) {
        ctx.report.error(where, "invalid-dependency", ref.error);
        ok = false;
      } else if (ref.kind === "tag" && field.key === "tag") tag = ref;
      else workflow = ref;
    } else if (field.key === "mount") {
      mount = readBool(field, ctx);
    } else {
      ok = false;
      ctx.report.error(field.keyNode, "unknown-field", `unknown dependency field \`${field.key}\`${didYouMean(field.key, OBJECT_KEYS) || "; a dependency has `workflow` or `tag`, and `mount`"}`);
    }
  }
  if (!ok) return undefined;
  const base = combine(workflow, tag);
  if (base === undefined) {
    ctx.report.error(item, "missing-field", "a dependency needs `workflow` or `tag`, e.g. `- workflow: download` or `- tag: mnist_data`");
    return undefined;
  }
  return mount === undefined ? base : { ...base, mount };
}

/** `{workflow: w, tag: t}` reuses the run of `w` tagged `t`. */
function combine(workflow: DependencyRef | undefined, tag: TagDependency | undefined): DependencyRef | undefined {
  if (tag === undefined) return workflow;
  if (workflow === undefined) return tag;
  const combined: TagDependency = { kind: "tag", tag: tag.tag };
  if (workflow.workflow !== undefined) combined.workflow = workflow.workflow;
  const repo = workflow.repo ?? tag.repo;
  if (repo !== undefined) combined.repo = repo;
  return combined;
}
