import { spawnSync } from "node:child_process";
import type { GpuSpec } from "../../src/workflow/types.js";

/** A GPU of this machine, as `nvidia-smi` reports it. */
export interface LocalGpu {
  index: number;
  name: string;
  memoryMiB: number;
}

/**
 * The NVIDIA GPUs of this machine (`nvidia-smi --query-gpu`), or none when the tool is missing,
 * fails or hangs (5 s). Read once when the local backend starts: GPUs do not come and go.
 */
export function detectLocalGpus(command = "nvidia-smi"): LocalGpu[] {
  const out = spawnSync(command, ["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"], {
    encoding: "utf8",
    timeout: 5000,
  });
  if (out.error !== undefined || out.status !== 0) return [];
  return parseNvidiaSmiCsv(out.stdout);
}

/** Lines of `index, name, memory MiB` (nvidia-smi's csv,noheader,nounits). */
export function parseNvidiaSmiCsv(csv: string): LocalGpu[] {
  const gpus: LocalGpu[] = [];
  for (const line of csv.split("\n")) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length < 3) continue;
    const index = Number(cells[0]);
    const memoryMiB = Number(cells[cells.length - 1]);
    const name = cells.slice(1, -1).join(", ");
    if (!Number.isInteger(index) || !Number.isFinite(memoryMiB) || name === "") continue;
    gpus.push({ index, name, memoryMiB });
  }
  return gpus;
}

const normalise = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * Why this machine cannot give a run the GPUs it asks for, or undefined when it can. A name
 * matches case-insensitively within the GPU's own name (`K80` in `Tesla K80`, `a100` in
 * `NVIDIA A100-SXM4-80GB`); memory is per GPU.
 */
export function refuseGpuRequest(requested: GpuSpec | undefined, gpus: readonly LocalGpu[]): string | undefined {
  if (requested === undefined || requested.count <= 0) return undefined;
  const fitting = gpus.filter(
    (g) =>
      (requested.name === undefined || normalise(g.name).includes(normalise(requested.name))) &&
      (requested.memoryMiB === undefined || g.memoryMiB >= requested.memoryMiB),
  );
  if (fitting.length >= requested.count) return undefined;
  const asked = `${requested.count} GPU${requested.count === 1 ? "" : "s"}${requested.name !== undefined ? ` ${requested.name}` : ""}${
    requested.memoryMiB !== undefined ? ` with at least ${requested.memoryMiB} MiB` : ""
  }`;
  const here =
    gpus.length === 0
      ? "this machine has no NVIDIA GPU (nvidia-smi finds none)"
      : `this machine has ${gpus.map((g) => `${g.name} (${g.memoryMiB} MiB)`).join(", ")}`;
  return `the workflow asks for ${asked}, and the local backend runs on this machine only: ${here}. Drop or lower \`resources.gpu\` (or \`--gpu 0\`), or use a backend with GPUs (DSTACK_BACKEND=ec2)`;
}
