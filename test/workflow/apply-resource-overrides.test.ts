import { describe, expect, it } from "@jest/globals";
import { applyResourceOverrides, loadWorkflows } from "../../src/workflow/index.js";
import type { Workflow } from "../../src/workflow/index.js";

const base = loadWorkflows([{ path: ".dstack/workflows.yaml", text: "workflows:\n  - {name: a, provider: bash, commands: [x], resources: {gpu: {name: K80, count: 2}, memory: 8GB}}\n" }]).workflows[0] as Workflow;

describe("applyResourceOverrides", () => {
  it("merges GPU options into the workflow's GPU and leaves the workflow untouched", () => {
    expect(applyResourceOverrides(base, { gpu: { count: 4 } }).resources).toEqual({ interruptible: false, memoryMiB: 8192, gpu: { name: "K80", count: 4 } });
    expect(applyResourceOverrides(base, { gpu: { name: "V100" }, interruptible: true, local: true, cpu: 2, shmSizeMiB: 1024, memoryMiB: 1 }).resources).toEqual({
      interruptible: true,
      local: true,
      cpu: 2,
      shmSizeMiB: 1024,
      memoryMiB: 1,
      gpu: { name: "V100", count: 2 },
    });
    expect(base.resources.gpu).toEqual({ name: "K80", count: 2 });
  });

  it("gives a new GPU a count of 1, and removes the GPU for `--gpu 0`", () => {
    const none = applyResourceOverrides(base, { gpu: { count: 0 } });
    expect(none.resources.gpu).toBeUndefined();
    expect(applyResourceOverrides(none, { gpu: { name: "A100" } }).resources.gpu).toEqual({ count: 1, name: "A100" });
  });
});
