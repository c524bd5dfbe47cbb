import type { Resources } from "../../src/workflow/types.js";
import type { Catalogue, InstanceType } from "./catalogue.js";
import { parseGpuName, type GpuName } from "./gpu-name.js";

/** What a run asks for: the workflow's `resources` (or `dstack offers` flags). */
export type OfferRequest = Pick<Resources, "gpu" | "cpu" | "memoryMiB" | "shmSizeMiB" | "interruptible">;

export type Market = "spot" | "on-demand";

export interface SelectOptions {
  /** Instance families allowed (`g5`, `p3`); default: every family of the catalogue. */
  families?: readonly string[];
  /** Highest price per hour accepted, in dollars, in the offer's market; default: no limit. */
  maxPricePerHour?: number;
  /** `interruptible` runs may also get on-demand offers, after every spot one (DSTACK_EC2_SPOT_FALLBACK); default false. */
  spotFallback?: boolean;
}

/** One instance type in one market, at its hourly price there. */
export interface Offer {
  type: InstanceType;
  market: Market;
  pricePerHour: number;
}

/**
 * The instance types of `catalogue` that satisfy `request`, cheapest first (ties: fewer vCPUs, then
 * the name). An `interruptible` request gets spot offers (types with a known spot price), then, with
 * `spotFallback`, on-demand ones; any other request gets on-demand offers. GPU names match
 * case-insensitively (`a100`, `A100-80GB`: a size in the name is a per-GPU memory minimum). Pure:
 * `dstack offers` and the EC2 backend choose with this same function.
 */
export function selectOffers(request: OfferRequest, catalogue: Catalogue, options: SelectOptions = {}): Offer[] {
  const wanted = request.gpu?.name === undefined ? undefined : parseGpuName(request.gpu.name);
  const fits = catalogue.types.filter((t) => fitsRequest(t, request, options.families, wanted));
  const markets: Market[] = request.interruptible ? (options.spotFallback === true ? ["spot", "on-demand"] : ["spot"]) : ["on-demand"];
  const offers: Offer[] = [];
  for (const market of markets) {
    const inMarket: Offer[] = [];
    for (const type of fits) {
      const price = market === "spot" ? type.pricePerHour.spot : type.pricePerHour.onDemand;
      if (price === null) continue;
      if (options.maxPricePerHour !== undefined && price > options.maxPricePerHour) continue;
      inMarket.push({ type, market, pricePerHour: price });
    }
    inMarket.sort(cheapestFirst);
    offers.push(...inMarket);
  }
  return offers;
}

function cheapestFirst(a: Offer, b: Offer): number {
  return a.pricePerHour - b.pricePerHour || a.type.vcpus - b.type.vcpus || a.type.instanceType.localeCompare(b.type.instanceType);
}

/** Whether `type` has what `request` asks for (markets and prices aside). */
export function fitsRequest(type: InstanceType, request: OfferRequest, families?: readonly string[], parsedName?: GpuName): boolean {
  if (families !== undefined && families.length > 0 && !families.includes(type.family)) return false;
  if (request.cpu !== undefined && type.vcpus < request.cpu) return false;
  if (request.memoryMiB !== undefined && type.memoryMiB < request.memoryMiB) return false;
  // Shared memory is carved out of the machine's RAM.
  if (request.shmSizeMiB !== undefined && type.memoryMiB < request.shmSizeMiB) return false;
  const gpu = request.gpu;
  if (gpu === undefined || gpu.count === 0) return true;
  if (type.gpu === null || type.gpu.count < gpu.count) return false;
  let memoryMiB = gpu.memoryMiB;
  if (gpu.name !== undefined) {
    const wanted = parsedName ?? parseGpuName(gpu.name);
    if (type.gpu.name.toUpperCase() !== wanted.name) return false;
    if (wanted.memoryMiB !== undefined) memoryMiB = Math.max(memoryMiB ?? 0, wanted.memoryMiB);
  }
  return memoryMiB === undefined || type.gpu.memoryMiB >= memoryMiB;
}
