import { describe, expect, it } from "@jest/globals";
import { bundledCatalogue, type Catalogue } from "../../../runners/ec2/catalogue.js";
import { describeRequest, explainNoOffer } from "../../../runners/ec2/describe-request.js";
import { parseGpuName } from "../../../runners/ec2/gpu-name.js";
import { selectOffers, type OfferRequest } from "../../../runners/ec2/select-offers.js";

const catalogue = bundledCatalogue();
const names = (request: OfferRequest, options = {}) => selectOffers(request, catalogue, options).map((o) => o.type.instanceType);

describe("the bundled catalogue", () => {
  it("covers every GPU family the issue names, and CPU-only types", () => {
    const families = new Set(catalogue.types.map((t) => t.family));
    for (const f of ["p2", "p3", "p3dn", "g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "t3", "m5"]) expect(families.has(f)).toBe(true);
    const gpus = new Set(catalogue.types.flatMap((t) => (t.gpu === null ? [] : [t.gpu.name])));
    expect([...gpus].sort()).toEqual(["A100", "A10G", "H100", "K80", "L4", "L40S", "T4", "V100"]);
    expect(catalogue.spotPrices).toMatch(/^TYPICAL/);
    expect(new Set(catalogue.types.map((t) => t.instanceType)).size).toBe(catalogue.types.length);
  });
});

describe("parseGpuName", () => {
  it("reads names case-insensitively, with an optional per-GPU memory", () => {
    expect(parseGpuName("a100")).toEqual({ name: "A100" });
    expect(parseGpuName("A100-80GB")).toEqual({ name: "A100", memoryMiB: 81920 });
    expect(parseGpuName("a100_80gb")).toEqual({ name: "A100", memoryMiB: 81920 });
    expect(parseGpuName("A100:40G")).toEqual({ name: "A100", memoryMiB: 40960 });
    expect(parseGpuName("nvidia a10g")).toEqual({ name: "A10G" });
    expect(parseGpuName("A10")).toEqual({ name: "A10G" });
    expect(parseGpuName("Tesla V100")).toEqual({ name: "V100" });
    expect(parseGpuName("l40s")).toEqual({ name: "L40S" });
  });
});

describe("selectOffers", () => {
  it("puts the cheapest fitting type first: one GPU of any kind is a g4dn.xlarge", () => {
    const offers = selectOffers({ gpu: { count: 1 }, interruptible: false }, catalogue);
    expect(offers[0]).toMatchObject({ market: "on-demand", pricePerHour: 0.526, type: { instanceType: "g4dn.xlarge" } });
    const prices = offers.map((o) => o.pricePerHour);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    expect(offers.every((o) => (o.type.gpu?.count ?? 0) >= 1)).toBe(true);
  });

  it("gives a CPU-only run the cheapest machine of all", () => {
    expect(names({ interruptible: false })[0]).toBe("t3.medium");
    expect(names({ cpu: 8, memoryMiB: 64 * 1024, interruptible: false })[0]).toBe("r5.2xlarge");
  });

  it("matches GPU names case-insensitively, and a size in the name as per-GPU memory", () => {
    expect(names({ gpu: { count: 1, name: "a100" }, interruptible: false })).toEqual(["p4d.24xlarge", "p4de.24xlarge"]);
    expect(names({ gpu: { count: 1, name: "A100-80GB" }, interruptible: false })).toEqual(["p4de.24xlarge"]);
    expect(names({ gpu: { count: 2, name: "k80" }, interruptible: false })).toEqual(["p2.8xlarge", "p2.16xlarge"]);
    expect(names({ gpu: { count: 1, name: "A10" }, interruptible: false })[0]).toBe("g5.xlarge");
  });

  it("honours GPU memory without a name", () => {
    const offers = selectOffers({ gpu: { count: 1, memoryMiB: 40 * 1024 }, interruptible: false }, catalogue);
    expect(offers[0]?.type.instanceType).toBe("g6e.xlarge");
    expect(offers.every((o) => (o.type.gpu?.memoryMiB ?? 0) >= 40 * 1024)).toBe(true);
  });

  it("needs the GPU count, vCPUs, memory and shared memory together", () => {
    const request: OfferRequest = { gpu: { count: 4, name: "T4" }, cpu: 48, memoryMiB: 100 * 1024, shmSizeMiB: 8 * 1024, interruptible: false };
    expect(names(request)).toEqual(["g4dn.12xlarge", "g4dn.metal"]);
    expect(names({ shmSizeMiB: 3000 * 1024, interruptible: false })).toEqual([]);
  });

  it("sorts an interruptible request by spot price, and adds on-demand after it only with the fallback", () => {
    const request: OfferRequest = { gpu: { count: 1, name: "V100" }, interruptible: true };
    const spot = selectOffers(request, catalogue);
    expect(spot.map((o) => o.market)).toEqual(["spot", "spot", "spot", "spot"]);
    expect(spot[0]).toMatchObject({ type: { instanceType: "p3.2xlarge" }, pricePerHour: catalogue.types.find((t) => t.instanceType === "p3.2xlarge")?.pricePerHour.spot });
    const withFallback = selectOffers(request, catalogue, { spotFallback: true });
    expect(withFallback.map((o) => `${o.type.instanceType}/${o.market}`)).toEqual([
      "p3.2xlarge/spot",
      "p3.8xlarge/spot",
      "p3.16xlarge/spot",
      "p3dn.24xlarge/spot",
      "p3.2xlarge/on-demand",
      "p3.8xlarge/on-demand",
      "p3.16xlarge/on-demand",
      "p3dn.24xlarge/on-demand",
    ]);
  });

  it("skips types with no known spot price for spot requests", () => {
    const only: Catalogue = { ...catalogue, types: catalogue.types.map((t) => ({ ...t, pricePerHour: { ...t.pricePerHour, spot: t.family === "g4dn" ? null : t.pricePerHour.spot } })) };
    const offers = selectOffers({ gpu: { count: 1 }, interruptible: true }, only);
    expect(offers.some((o) => o.type.family === "g4dn")).toBe(false);
    expect(offers[0]?.type.instanceType).toBe("p2.xlarge");
  });

  it("keeps to the allowed families and the maximum price", () => {
    expect(names({ gpu: { count: 1 }, interruptible: false }, { families: ["g5", "g6"] })[0]).toBe("g6.xlarge");
    expect(names({ gpu: { count: 8 }, interruptible: false }, { maxPricePerHour: 10 })).toEqual(["p2.8xlarge", "g4dn.metal"]);
  });
});

describe("describeRequest and explainNoOffer", () => {
  it("says what was asked", () => {
    expect(describeRequest({ gpu: { count: 2, name: "a100-80GB" }, cpu: 16, memoryMiB: 65536, interruptible: true })).toBe(
      "2x A100 (80 GB each), 16 vCPUs, 64 GB memory, spot",
    );
  });

  it("names the GPUs that exist when the name is unknown", () => {
    expect(explainNoOffer({ gpu: { count: 1, name: "X200" }, interruptible: false }, catalogue)).toBe(
      "nothing fits 1x X200, on-demand: no allowed instance type has a X200 GPU; there are K80, V100, T4, A10G, L4, L40S, A100, H100",
    );
  });

  it("says how many GPUs of a model one instance has at most", () => {
    expect(explainNoOffer({ gpu: { count: 16, name: "H100" }, interruptible: false }, catalogue)).toBe(
      "nothing fits 16x H100, on-demand: at most 8 H100 GPUs on one instance",
    );
  });

  it("names the price limit when it is the reason", () => {
    expect(explainNoOffer({ gpu: { count: 1, name: "H100" }, interruptible: false }, catalogue, { maxPricePerHour: 5 })).toBe(
      "nothing fits 1x H100, on-demand: the cheapest fitting type costs $98.320/h, above the maximum of $5/h",
    );
  });
});
