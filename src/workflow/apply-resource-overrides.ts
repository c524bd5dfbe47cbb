import type { ResourceOverrides, Workflow } from "./types.js";

/**
 * A copy of `workflow` with command-line resources applied (`dstack run train --gpu 2 -i`).
 * GPU flags merge into the workflow's GPU (`--gpu-name K80` keeps its count; a new GPU counts 1);
 * `--gpu 0` removes the GPU. Nothing else changes.
 */
export function applyResourceOverrides(workflow: Workflow, overrides: ResourceOverrides): Workflow {
  const resources = { ...workflow.resources };
  if (overrides.gpu !== undefined) {
    const gpu = { count: 1, ...resources.gpu, ...definedOnly(overrides.gpu) };
    if (gpu.count === 0) delete resources.gpu;
    else resources.gpu = gpu;
  }
  if (overrides.cpu !== undefined) resources.cpu = overrides.cpu;
  if (overrides.memoryMiB !== undefined) resources.memoryMiB = overrides.memoryMiB;
  if (overrides.shmSizeMiB !== undefined) resources.shmSizeMiB = overrides.shmSizeMiB;
  if (overrides.interruptible !== undefined) resources.interruptible = overrides.interruptible;
  if (overrides.local !== undefined) resources.local = overrides.local;
  return { ...workflow, resources };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
