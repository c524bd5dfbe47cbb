import { parseMemorySizeMiB } from "../memory-size.js";
import type { ResourceOverrides } from "../types.js";
import type { FlagSpec } from "./parse-argv.js";

/** State of a parse that collects resource options. */
export interface WithResources {
  resources: ResourceOverrides;
}

export function parseCount(flag: string, value: string, min: number): number | string {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed) && Number(trimmed) >= min) return Number(trimmed);
  return `\`${flag}\` takes a whole number${min > 0 ? ` of at least ${min}` : ""}, e.g. \`${flag} 2\`; got \`${value}\``;
}

export function parseSize(flag: string, value: string): number | string {
  return parseMemorySizeMiB(value) ?? `\`${flag}\` takes a size such as \`16GB\` or \`512MB\`; got \`${value}\``;
}

function gpu(state: WithResources): NonNullable<ResourceOverrides["gpu"]> {
  state.resources.gpu ??= {};
  return state.resources.gpu;
}

/**
 * `--gpu N`, `--gpu-name NAME`, `--gpu-memory SIZE`, `--cpu N`, `--memory SIZE`, `--shm-size SIZE`,
 * `-i/--interruptible`, `-l/--local`: the resource options of ad-hoc runs and of `run <workflow>`.
 */
export function resourceFlags<S extends WithResources>(): FlagSpec<S>[] {
  return [
    {
      names: ["--gpu"],
      value: "N",
      apply(state, value) {
        const count = parseCount("--gpu", value, 0);
        if (typeof count === "string") return count;
        gpu(state).count = count;
        return undefined;
      },
    },
    {
      names: ["--gpu-name"],
      value: "NAME",
      apply(state, value) {
        if (value.trim() === "") return "`--gpu-name` takes a GPU name, e.g. `--gpu-name V100`";
        gpu(state).name = value.trim();
        return undefined;
      },
    },
    {
      names: ["--gpu-memory"],
      value: "SIZE",
      apply(state, value) {
        const size = parseSize("--gpu-memory", value);
        if (typeof size === "string") return size;
        gpu(state).memoryMiB = size;
        return undefined;
      },
    },
    {
      names: ["--cpu"],
      value: "N",
      apply(state, value) {
        const count = parseCount("--cpu", value, 1);
        if (typeof count === "string") return count;
        state.resources.cpu = count;
        return undefined;
      },
    },
    {
      names: ["--memory"],
      value: "SIZE",
      apply(state, value) {
        const size = parseSize("--memory", value);
        if (typeof size === "string") return size;
        state.resources.memoryMiB = size;
        return undefined;
      },
    },
    {
      names: ["--shm-size"],
      value: "SIZE",
      apply(state, value) {
        const size = parseSize("--shm-size", value);
        if (typeof size === "string") return size;
        state.resources.shmSizeMiB = size;
        return undefined;
      },
    },
    {
      names: ["-i", "--interruptible"],
      apply(state) {
        state.resources.interruptible = true;
        return undefined;
      },
    },
    {
      names: ["-l", "--local"],
      apply(state) {
        state.resources.local = true;
        return undefined;
      },
    },
  ];
}
