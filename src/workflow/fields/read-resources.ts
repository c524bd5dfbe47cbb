import { isMap } from "yaml";
import { didYouMean, listInline } from "../did-you-mean.js";
import type { GpuSpec, Resources } from "../types.js";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";
import { readBool, readInt, readSizeMiB, readText } from "./value-readers.js";

const RESOURCE_KEYS = ["gpu", "memory", "cpu", "shm_size", "interruptible", "nodes", "local", "remote"] as const;
const GPU_KEYS = ["name", "count", "memory"] as const;
/** The early-2022 `NAME/gpu: N` key, e.g. `v100/gpu: 2`. */
const NAMED_GPU_KEY = /^([A-Za-z0-9_.-]+)\/gpu$/;

/** Reads `resources:` into `resources`, reporting every unknown or malformed key. */
export function readResources(entry: Entry, ctx: FieldContext, resources: Resources): void {
  if (entry.value === null) return;
  if (!isMap(entry.value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`resources\` must be a mapping, e.g. \`resources: {gpu: 1, memory: 16GB}\`; got ${describeNode(entry.value)}`);
    return;
  }
  let gpuKey: string | undefined;
  for (const item of ctx.yaml.entries(entry.value)) {
    const named = item.key.endsWith("/gpu") ? NAMED_GPU_KEY.exec(item.key) : null;
    if (item.key === "gpu" || named) {
      if (gpuKey !== undefined) {
        ctx.report.error(item.keyNode, "conflicting-fields", `\`${item.key}\` and \`${gpuKey}\` both give the GPU; keep one`);
        continue;
      }
      gpuKey = item.key;
    }
    if (named) {
      const count = readInt(item, ctx, 0, `${item.key}: 1`);
      const name = named[1] as string;
      ctx.report.warning(
        item.keyNode,
        "renamed-field",
        `\`${item.key}: N\` is the early-2022 form; write \`gpu: {name: ${name}, count: ${count ?? "N"}}\``,
      );
      if (count !== undefined) setGpu(resources, count === 0 ? undefined : { count, name });
      continue;
    }
    if (!readResourceKey(item, ctx, resources)) {
      const hint = didYouMean(item.key, RESOURCE_KEYS);
      ctx.report.error(item.keyNode, "unknown-field", `unknown resource \`${item.key}\`${hint || `; resources are ${listInline(RESOURCE_KEYS)}`}`);
    }
  }
}

/** Reads one resource key (also used for resource keys misplaced at the workflow level); false when unknown. */
export function readResourceKey(item: Entry, ctx: FieldContext, resources: Resources): boolean {
  switch (item.key) {
    case "gpu": {
      const gpu = readGpu(item, ctx);
      if (gpu !== undefined) setGpu(resources, gpu === "none" ? undefined : gpu);
      return true;
    }
    case "memory":
      assign(resources, "memoryMiB", readSizeMiB(item, ctx, "memory: 16GB"));
      return true;
    case "shm_size":
      assign(resources, "shmSizeMiB", readSizeMiB(item, ctx, "shm_size: 8GB"));
      return true;
    case "cpu":
      assign(resources, "cpu", readInt(item, ctx, 1, "cpu: 4"));
      return true;
    case "nodes":
      assign(resources, "nodes", readInt(item, ctx, 1, "nodes: 2"));
      return true;
    case "interruptible": {
      const value = readBool(item, ctx);
      if (value !== undefined) resources.interruptible = value;
      return true;
    }
    case "local":
      assign(resources, "local", readBool(item, ctx));
      return true;
    case "remote": {
      // Late 2022 (dstack 0.0.15, `docs/basics/resources.md`) ran locally by default; `remote: true` asked for the cloud.
      const remote = readBool(item, ctx);
      if (remote !== undefined) resources.local = !remote;
      return true;
    }
    default:
      return false;
  }
}

function assign<K extends keyof Resources>(resources: Resources, key: K, value: Resources[K] | undefined): void {
  if (value !== undefined) resources[key] = value;
}

function setGpu(resources: Resources, gpu: GpuSpec | undefined): void {
  if (gpu === undefined) delete resources.gpu;
  else resources.gpu = gpu;
}

/** `gpu: N` or `gpu: {name, count, memory}`; "none" for `gpu: 0`, undefined after an error. */
function readGpu(entry: Entry, ctx: FieldContext): GpuSpec | "none" | undefined {
  if (!isMap(entry.value)) {
    const count = readInt(entry, ctx, 0, "gpu: 1");
    if (count === undefined) return undefined;
    return count === 0 ? "none" : { count };
  }
  const gpu: GpuSpec = { count: 1 };
  let ok = true;
  for (const item of ctx.yaml.entries(entry.value)) {
    switch (item.key) {
      case "name": {
        const name = readText(item, ctx, "name: V100");
        if (name === undefined || name.trim() === "") ok = false;
        else gpu.name = name.trim();
        break;
      }
      case "count": {
        const count = readInt(item, ctx, 0, "count: 1");
        if (count === undefined) ok = false;
        else gpu.count = count;
        break;
      }
      case "memory": {
        const memory = readSizeMiB(item, ctx, "memory: 16GB");
        if (memory === undefined) ok = false;
        else gpu.memoryMiB = memory;
        break;
      }
      default:
        ok = false;
        ctx.report.error(
          item.keyNode,
          "unknown-field",
          `unknown GPU field \`${item.key}\`${didYouMean(item.key, GPU_KEYS) || "; a GPU has `name`, `count` and `memory`"}`,
        );
    }
  }
  if (!ok) return undefined;
  return gpu.count === 0 ? "none" : gpu;
}
