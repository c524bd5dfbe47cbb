/**
 * What a failed RunInstances means for the next attempt:
 * - `zone`: this zone has no capacity for the type (or does not offer it): try the next subnet;
 * - `type`: the type or market cannot be had anywhere right now (price, quota): try the next type;
 * - `fatal`: trying elsewhere cannot help (permissions, a bad AMI or subnet): stop and say why.
 * Codes: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
 */
export type FailureScope = "zone" | "type" | "fatal";

/** `UnfulfillableCapacity`: no spare spot capacity for the request right now (EC2's errors overview). */
const ZONE_CODES = new Set(["InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity", "UnfulfillableCapacity", "Unsupported", "InsufficientFreeAddressesInSubnet"]);
const TYPE_CODES = new Set(["SpotMaxPriceTooLow", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded", "InstanceLimitExceeded", "InsufficientReservedInstanceCapacity"]);

/** The EC2 error code of an SDK error (`name`, or `Code` on older shapes); the message otherwise. */
export function errorCode(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { Code?: unknown }).Code;
    return typeof code === "string" && code !== "" ? code : err.name !== "Error" ? err.name : err.message;
  }
  return String(err);
}

export function failureScope(err: unknown): FailureScope {
  const code = errorCode(err);
  if (ZONE_CODES.has(code)) return "zone";
  if (TYPE_CODES.has(code)) return "type";
  return "fatal";
}
