import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const Gpu = z.object({ name: z.string().min(1), count: z.number().int().positive(), memoryMiB: z.number().int().positive() });

const InstanceType = z.object({
  instanceType: z.string().regex(/^[a-z0-9-]+\.[a-z0-9-]+$/),
  family: z.string().min(1),
  vcpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  /** Null for a CPU-only type. */
  gpu: Gpu.nullable(),
  pricePerHour: z.object({
    onDemand: z.number().positive(),
    /** Typical spot price (bundled) or the latest one (DescribeSpotPriceHistory); null when unknown. */
    spot: z.number().positive().nullable(),
  }),
});
export type InstanceType = z.infer<typeof InstanceType>;

export const Catalogue = z.object({
  region: z.string(),
  pricesAsOf: z.string(),
  onDemandPrices: z.string(),
  spotPrices: z.string(),
  gpuMemory: z.string(),
  types: z.array(InstanceType).min(1),
});
/** Instance types with their facts and prices; `catalogue.json` is the bundled one. */
export type Catalogue = z.infer<typeof Catalogue>;

let bundled: Catalogue | undefined;

/**
 * The catalogue bundled with dstack-app (`runners/ec2/catalogue.json`): the GPU families and a few
 * CPU-only types with us-east-1 on-demand list prices and TYPICAL spot prices (labelled so in the
 * file). Used when the EC2 API is not allowed, and by `dstack offers` without AWS credentials.
 */
export function bundledCatalogue(): Catalogue {
  bundled ??= Object.freeze(Catalogue.parse(JSON.parse(readFileSync(findCatalogueFile(), "utf8"))));
  return bundled;
}

/** Next to this module in the sources; from dist/runners/ec2/ the sources' copy at the package root. */
function findCatalogueFile(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const candidate of [path.join(dir, "catalogue.json"), path.join(dir, "runners", "ec2", "catalogue.json")]) {
      if (existsSync(candidate)) return candidate;
    }
    dir = path.dirname(dir);
  }
  throw new Error("runners/ec2/catalogue.json not found next to package.json");
}
