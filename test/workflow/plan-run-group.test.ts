import { describe, expect, it } from "@jest/globals";
import { InvalidInputError } from "../../src/errors.js";
import { loadWorkflows, parseAdHocRun, planRunGroup } from "../../src/workflow/index.js";
import type { DependencyRef, RunGroupPlan, Workflow } from "../../src/workflow/index.js";

function workflow(name: string, ...deps: string[]): Workflow {
  return {
    name,
    provider: "bash",
    args: [],
    commands: [`echo ${name}`],
    setup: [],
    env: {},
    artifacts: [],
    resources: { interruptible: false },
    dependsOn: deps.map((d): DependencyRef => {
      const [w, tag] = d.split(":");
      return tag === undefined ? { kind: "workflow", workflow: d } : { kind: "tag", tag, ...(w ? { workflow: w } : {}) };
    }),
    on: {},
    source: { file: ".dstack/workflows.yaml", line: 1, column: 1 },
  };
}

const order = (plan: RunGroupPlan) => plan.nodes.map((n) => n.workflow.name);

function thrown(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("did not throw");
}

describe("planRunGroup", () => {
  it("runs a diamond's shared dependency once, dependencies first, the target last", () => {
    const all = [workflow("train", "features", "labels"), workflow("features", "download"), workflow("labels", "download"), workflow("download"), workflow("unrelated")];
    const plan = planRunGroup(all, "train");
    expect(order(plan)).toEqual(["download", "features", "labels", "train"]);
    expect(plan.target).toBe("train");
    expect(plan.nodes.map((n) => n.needs)).toEqual([[], ["download"], ["download"], ["features", "labels"]]);
  });

  it("is deterministic: the same input gives the same plan, following `depends-on` order", () => {
    const all = [workflow("t", "b", "a", "c"), workflow("a", "c"), workflow("b"), workflow("c")];
    const first = planRunGroup(all, "t");
    expect(order(first)).toEqual(["b", "c", "a", "t"]);
    for (let i = 0; i < 5; i++) expect(planRunGroup([...all].reverse(), "t")).toEqual(first);
  });

  it("puts tag dependencies in `reuse` instead of running them", () => {
    const all = [workflow("train", "download:v1", ":best", "prepare"), workflow("download"), workflow("prepare", "download:latest")];
    const plan = planRunGroup(all, "train");
    expect(order(plan)).toEqual(["prepare", "train"]);
    expect(plan.nodes[0]?.reuse).toEqual([{ kind: "tag", tag: "latest", workflow: "download" }]);
    expect(plan.nodes[1]?.reuse).toEqual([
      { kind: "tag", tag: "v1", workflow: "download" },
      { kind: "tag", tag: "best" },
    ]);
    expect(plan.nodes[1]?.needs).toEqual(["prepare"]);
  });

  it("refuses an unknown target, naming the closest workflow and what exists", () => {
    const error = thrown(() => planRunGroup([workflow("train"), workflow("download")], "trian"));
    expect(error.code).toBe("unknown_workflow");
    expect(error.message).toBe("workflow `trian` is not defined — did you mean `train`?; workflows: `train`, `download`");
    expect(thrown(() => planRunGroup([], "x")).message).toContain("there are no workflows");
  });

  it("refuses cycles, naming them, and unknown dependencies", () => {
    const cycle = thrown(() => planRunGroup([workflow("a", "b"), workflow("b", "c"), workflow("c", "a")], "a"));
    expect(cycle.code).toBe("dependency_cycle");
    expect(cycle.message).toBe("dependency cycle: a -> b -> c -> a");
    expect(thrown(() => planRunGroup([workflow("a", "a")], "a")).message).toBe("dependency cycle: a -> a");
    const unknown = thrown(() => planRunGroup([workflow("a", "downlaod"), workflow("download")], "a"));
    expect(unknown.code).toBe("unknown_dependency");
    expect(unknown.message).toContain("did you mean `download`?");
  });

  it("plans an ad-hoc workflow given as an object", () => {
    const loaded = loadWorkflows([{ path: ".dstack/workflows.yaml", text: "workflows:\n  - {name: prepare, provider: bash, commands: [x]}\n" }]);
    const adHoc = parseAdHocRun(["python", "train.py", "--dep", "prepare", "--dep", "other:latest"]);
    if (!("workflow" in adHoc)) throw new Error("expected a workflow");
    const plan = planRunGroup(loaded.workflows, adHoc.workflow);
    expect(order(plan)).toEqual(["prepare", "python"]);
    expect(plan.nodes[1]?.reuse).toEqual([{ kind: "tag", tag: "latest", workflow: "other" }]);
  });

  it("plans long chains without exhausting the stack", () => {
    const chain = Array.from({ length: 20000 }, (_, i) => (i === 0 ? workflow("w0") : workflow(`w${i}`, `w${i - 1}`)));
    const plan = planRunGroup(chain, "w19999");
    expect(plan.nodes).toHaveLength(20000);
    expect(plan.nodes[0]?.workflow.name).toBe("w0");
  });
});
