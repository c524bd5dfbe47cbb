import { describe, expect, it } from "@jest/globals";
import { gpuMismatch } from "../../../runners/agent/gpu-check.js";
import { parseNvidiaSmiCsv } from "../../../runners/local/local-gpus.js";

/** nvidia-smi's `--query-gpu=index,name,memory.total --format=csv,noheader,nounits` on real instances. */
const A100_X2 = parseNvidiaSmiCsv("0, NVIDIA A100-SXM4-40GB, 40960\n1, NVIDIA A100-SXM4-40GB, 40960\n");
const A10G = parseNvidiaSmiCsv("0, NVIDIA A10G, 23028\n");

describe("the agent's GPU check", () => {
  it("says what was asked and what the instance has when it has fewer fitting GPUs", () => {
    expect(gpuMismatch({ count: 4, name: "A100" }, A100_X2)).toBe("asked for 4x A100, the instance has 2x NVIDIA A100-SXM4-40GB (40960 MiB)");
    expect(gpuMismatch({ count: 1, name: "a100-80gb" }, A100_X2)).toBe("asked for 1x A100 (81920 MiB each), the instance has 2x NVIDIA A100-SXM4-40GB (40960 MiB)");
    expect(gpuMismatch({ count: 1, name: "H100" }, A100_X2)).toBe("asked for 1x H100, the instance has 2x NVIDIA A100-SXM4-40GB (40960 MiB)");
    expect(gpuMismatch({ count: 1 }, [])).toBe("asked for 1x GPU, the instance has no NVIDIA GPU (nvidia-smi finds none)");
  });

  it("accepts what fits: the name as offers match it, more GPUs than asked, memory a driver reports a little under nominal", () => {
    expect(gpuMismatch({ count: 2, name: "a100" }, A100_X2)).toBeUndefined();
    expect(gpuMismatch({ count: 1, name: "A100-40GB" }, A100_X2)).toBeUndefined();
    expect(gpuMismatch({ count: 1, name: "A10", memoryMiB: 24 * 1024 }, A10G)).toBeUndefined();
    expect(gpuMismatch({ count: 1 }, A10G)).toBeUndefined();
    expect(gpuMismatch({ count: 0 }, [])).toBeUndefined();
    expect(gpuMismatch(undefined, [])).toBeUndefined();
  });
});
