import { isMap, isScalar, isSeq } from "yaml";
import type { Node } from "yaml";
import { normaliseArtifactPath } from "../artifact-path.js";
import { didYouMean } from "../did-you-mean.js";
import type { ArtifactSpec } from "../types.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";
import { readBool, readTextNode } from "./value-readers.js";

const ARTIFACT_KEYS = ["path", "mount"] as const;

/** `artifacts: [model, {path: ./output, mount: true}]` (one path alone is accepted too). */
export function readArtifacts(entry: Entry, ctx: FieldContext): ArtifactSpec[] {
  if (entry.value === null) return [];
  const items = isSeq(entry.value) ? ctx.yaml.items(entry.value) : [entry.value];
  if (!isSeq(entry.value) && !isScalar(entry.value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`artifacts\` must be a list of paths, e.g. \`artifacts: [model]\`; got ${describeNode(entry.value)}`);
    return [];
  }
  // Problems point at the item as written: an empty one (`- ` alone) reads as null, an alias as its target.
  const places = isSeq(entry.value) ? (entry.value.items as Node[]) : [];
  const out: ArtifactSpec[] = [];
  for (const [index, item] of items.entries()) {
    const place = places[index] ?? item ?? entry.keyNode;
    const artifact = readArtifact(item, place, ctx);
    if (artifact === undefined) continue;
    if (out.some((a) => a.path === artifact.path)) {
      ctx.report.warning(place, "duplicate-artifact", `artifact \`${artifact.path}\` is listed twice`);
      continue;
    }
    out.push(artifact);
  }
  return out;
}

function readArtifact(item: Entry["value"], place: Node, ctx: FieldContext): ArtifactSpec | undefined {
  let path: string | undefined;
  let mount = false;
  let where = place;
  if (isMap(item)) {
    for (const field of ctx.yaml.entries(item)) {
      if (field.key === "path") {
        path = readTextNode(field.value, field.keyNode, "`path`", ctx, "path: output");
        where = field.value ?? field.keyNode;
      } else if (field.key === "mount") {
        mount = readBool(field, ctx) ?? false;
      } else {
        ctx.report.error(field.keyNode, "unknown-field", `unknown artifact field \`${field.key}\`${didYouMean(field.key, ARTIFACT_KEYS) || "; an artifact has `path` and `mount`"}`);
      }
    }
    if (path === undefined) {
      ctx.report.error(item, "missing-field", "an artifact needs a `path`, e.g. `- path: output`");
      return undefined;
    }
  } else {
    path = readTextNode(item, place, "an artifact", ctx, "- model");
    if (path === undefined) return undefined;
  }
  const normalised = normaliseArtifactPath(path);
  if ("error" in normalised) {
    ctx.report.error(where, "invalid-artifact-path", normalised.error);
    return undefined;
  }
  return { path: normalised.path, mount };
}
