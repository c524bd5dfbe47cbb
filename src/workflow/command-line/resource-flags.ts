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

/** An option whose value `parse` turns into a number (or an error message) that `set` stores. */
function numberFlag<S>(flag: string, value: string, parse: (value: string) => number | string, set: (state: S, n: number) => void): FlagSpec<S> {
  return {
    names: [flag],
    value,
    apply(state, raw) {
      const parsed = parse(raw);
      if (typeof parsed === "string") return parsed;
      set(state, parsed);
      return undefined;
    },
  };
}

/** `flag N`: a whole number of at least `min`. */
function countFlag<S>(flag: string, min: number, set: (state: S, n: number) => void): FlagSpec<S> {
  return numberFlag(flag, "N", (value) => parseCount(flag, value, min), set);
}

/** `flag SIZE`: a size in MiB. */
function sizeFlag<S>(flag: string, set: (state: S, n: number) => void): FlagSpec<S> {
  return numberFlag(flag, "SIZE", (value) => parseSize(flag, value), set);
}

/**
 * `--gpu N`, `--gpu-name NAME`, `--gpu-memory SIZE`, `--cpu N`, `--memory SIZE`, `--shm-size SIZE`,
 * `-i/--interruptible`, `-l/--local`: the resource options of ad-hoc runs and of `run <workflow>`.
 */
export function resourceFlags<S extends WithResources>(): FlagSpec<S>[] {
  return [
    countFlag("--gpu", 0, (state, count) => (gpu(state).count = count)),
    {
      names: ["--gpu-name"],
      value: "NAME",
      apply(state, value) {
        if (value.trim() === "") return "`--gpu-name` takes a GPU name, e.g. `--gpu-name V100`";
        gpu(state).name = value.trim();
        return undefined;
      },
    },
    sizeFlag("--gpu-memory", (state, size) => (gpu(state).memoryMiB = size)),
    countFlag("--cpu", 1, (state, count) => (state.resources.cpu = count)),
    sizeFlag("--memory", (state, size) => (state.resources.memoryMiB = size)),
    sizeFlag("--shm-size", (state, size) => (state.resources.shmSizeMiB = size)),
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
