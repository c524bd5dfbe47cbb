import type { Catalogue } from "./catalogue.js";
import type { Ec2Api } from "./ec2-api.js";

/** How far back DescribeSpotPriceHistory is read: the latest price of each zone is within it. */
const HISTORY_MS = 6 * 3600_000;

/**
 * `catalogue` with each type's spot price replaced by the lowest current one over the region's zones
 * (the latest DescribeSpotPriceHistory entry per zone, Linux/UNIX). Types EC2 reports nothing for
 * keep their typical price. Only `families` (all when empty) are asked about.
 */
export async function withLiveSpotPrices(catalogue: Catalogue, api: Pick<Ec2Api, "spotPrices">, families: readonly string[], now: number): Promise<Catalogue> {
  const types = catalogue.types.filter((t) => families.length === 0 || families.includes(t.family)).map((t) => t.instanceType);
  const history = await api.spotPrices(types, new Date(now - HISTORY_MS));
  // The current price of a type and zone is its entry with the latest timestamp. AWS's documentation
  // has said both "oldest first" and (in practice) newest first, so the order is not relied on; entries
  // without a timestamp keep the first one seen (newest first, as EC2 answers today).
  const latest = new Map<string, { pricePerHour: number; at: number }>();
  for (const p of history) {
    const key = `${p.instanceType} ${p.zone}`;
    const at = p.at?.getTime() ?? -Infinity;
    const seen = latest.get(key);
    if (seen === undefined || at > seen.at) latest.set(key, { pricePerHour: p.pricePerHour, at });
  }
  const lowest = new Map<string, number>();
  for (const [key, { pricePerHour: price }] of latest) {
    const type = key.split(" ")[0] as string;
    lowest.set(type, Math.min(price, lowest.get(type) ?? Infinity));
  }
  return {
    ...catalogue,
    spotPrices: `current lowest spot price over the region's zones (DescribeSpotPriceHistory); types without one keep the typical price`,
    types: catalogue.types.map((t) => {
      const spot = lowest.get(t.instanceType);
      return spot === undefined ? t : { ...t, pricePerHour: { ...t.pricePerHour, spot } };
    }),
  };
}
