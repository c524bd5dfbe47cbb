import { parseGpuName } from "../ec2/gpu-name.js";
import type { LocalGpu } from "../local/local-gpus.js";

/** What a run asked for (`resources.gpu`), as the job spec carries it. */
export interface GpuRequest {
  count: number;
  name?: string;
  memoryMiB?: number;
}

/**
 * nvidia-smi reports the memory a driver can use, a little under the nominal size (an A10G "24 GB"
 * shows 23028 MiB): a GPU within this share of the asked memory counts as having it.
 */
const USABLE_MEMORY_SHARE = 0.9;

/**
 * Why the GPUs this machine has (`nvidia-smi`) do not give the run what it asked for, in the words a
 * user reads ("asked for 4x A100, the instance has 2x NVIDIA A100-SXM4-80GB"), or undefined when
 * they do. Names match as the offer selection matches them (`a100`, `A100-80GB`, `A10` = A10G);
 * more GPUs than asked is fine (instance types come in fixed sizes).
 */
export function gpuMismatch(requested: GpuRequest | undefined, gpus: readonly LocalGpu[]): string | undefined {
  if (requested === undefined || requested.count <= 0) return undefined;
  const wanted = requested.name === undefined ? undefined : parseGpuName(requested.name);
  const memoryMiB = Math.max(requested.memoryMiB ?? 0, wanted?.memoryMiB ?? 0);
  const fitting = gpus.filter(
    (g) => (wanted === undefined || compact(g.name).includes(compact(wanted.name))) && g.memoryMiB >= memoryMiB * USABLE_MEMORY_SHARE,
  );
  if (fitting.length >= requested.count) return undefined;
  const asked = `${requested.count}x ${wanted?.name ?? "GPU"}${memoryMiB > 0 ? ` (${memoryMiB} MiB each)` : ""}`;
  return `asked for ${asked}, the instance has ${gpus.length === 0 ? "no NVIDIA GPU (nvidia-smi finds none)" : countByName(gpus)}`;
}

/** `2x NVIDIA A100-SXM4-80GB (81920 MiB)`, one group per model and size. */
function countByName(gpus: readonly LocalGpu[]): string {
  const groups = new Map<string, number>();
  for (const g of gpus) {
    const key = `${g.name} (${g.memoryMiB} MiB)`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([name, n]) => `${n}x ${name}`).join(", ");
}

function compact(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "");
}
