import type { Catalogue } from "./catalogue.js";
import { parseGpuName } from "./gpu-name.js";
import { fitsRequest, type OfferRequest, type SelectOptions } from "./select-offers.js";

/** `1x A100 (80 GB each), 8 vCPUs, 32 GB memory, spot`: what a run asked for, in a message. */
export function describeRequest(request: OfferRequest): string {
  const parts: string[] = [];
  const gpu = request.gpu;
  if (gpu !== undefined && gpu.count > 0) {
    const parsed = gpu.name === undefined ? undefined : parseGpuName(gpu.name);
    const memoryMiB = Math.max(gpu.memoryMiB ?? 0, parsed?.memoryMiB ?? 0);
    parts.push(`${gpu.count}x ${parsed?.name ?? "GPU"}${memoryMiB > 0 ? ` (${formatMiB(memoryMiB)} each)` : ""}`);
  } else {
    parts.push("no GPU");
  }
  if (request.cpu !== undefined) parts.push(`${request.cpu} vCPUs`);
  if (request.memoryMiB !== undefined) parts.push(`${formatMiB(request.memoryMiB)} memory`);
  if (request.shmSizeMiB !== undefined) parts.push(`${formatMiB(request.shmSizeMiB)} shared memory`);
  parts.push(request.interruptible ? "spot" : "on-demand");
  return parts.join(", ");
}

/** `16 GB`, `1.5 GB`, `512 MB`. */
export function formatMiB(mib: number): string {
  if (mib < 1024) return `${mib} MB`;
  const gb = mib / 1024;
  return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB`;
}

/**
 * Why no offer fits, naming what exists: an unknown GPU name lists the known ones; otherwise the
 * first constraint that no type meets, and what the catalogue has at most.
 */
export function explainNoOffer(request: OfferRequest, catalogue: Catalogue, options: SelectOptions = {}): string {
  const asked = `nothing fits ${describeRequest(request)}`;
  const allowed = catalogue.types.filter((t) => options.families === undefined || options.families.length === 0 || options.families.includes(t.family));
  if (allowed.length === 0) return `${asked}: no catalogue type is in the allowed families (${(options.families ?? []).join(", ")})`;
  const gpus = [...new Set(allowed.flatMap((t) => (t.gpu === null ? [] : [t.gpu.name])))];
  const gpu = request.gpu;
  if (gpu?.name !== undefined && gpu.count > 0) {
    const wanted = parseGpuName(gpu.name).name;
    const withName = allowed.filter((t) => t.gpu?.name.toUpperCase() === wanted);
    if (withName.length === 0) return `${asked}: no allowed instance type has a ${gpu.name} GPU; there are ${gpus.join(", ")}`;
    const most = Math.max(...withName.map((t) => t.gpu?.count ?? 0));
    if (most < gpu.count) return `${asked}: at most ${most} ${wanted} GPUs on one instance`;
  }
  const fit = allowed.filter((t) => fitsRequest(t, request, options.families));
  if (fit.length === 0) {
    const maxCpu = Math.max(...allowed.map((t) => t.vcpus));
    const maxMem = Math.max(...allowed.map((t) => t.memoryMiB));
    return `${asked}: no allowed instance type has all of it (at most ${maxCpu} vCPUs and ${formatMiB(maxMem)} memory; GPUs: ${gpus.join(", ")})`;
  }
  if (request.interruptible && fit.every((t) => t.pricePerHour.spot === null)) return `${asked}: no fitting type is sold as spot`;
  const cheapest = Math.min(...fit.map((t) => (request.interruptible ? (t.pricePerHour.spot ?? Infinity) : t.pricePerHour.onDemand)));
  return `${asked}: the cheapest fitting type costs $${cheapest.toFixed(3)}/h, above the maximum of $${options.maxPricePerHour ?? 0}/h`;
}
