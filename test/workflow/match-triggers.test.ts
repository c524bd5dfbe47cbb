import { describe, expect, it } from "@jest/globals";
import { globToRegExp, isTriggeredBy, loadWorkflows } from "../../src/workflow/index.js";

const { workflows, problems } = loadWorkflows([
  {
    path: ".dstack/workflows.yaml",
    text: `workflows:
  - name: any-push
    provider: bash
    on: push
    commands: [echo]
  - name: release
    provider: bash
    on: {push: {branches: [main, "release/*"]}, tag: {tags: ["v*"]}}
    commands: [echo]
  - name: manual
    provider: bash
    commands: [echo]
`,
  },
]);
function byName(name: string) {
  const w = workflows.find((x) => x.name === name);
  if (w === undefined) throw new Error(`the fixture has no workflow ${name}`);
  return w;
}

describe("isTriggeredBy", () => {
  it("loads the fixture cleanly", () => {
    expect(problems).toEqual([]);
  });

  it("runs `on: push` without branches on every branch, and never on tags", () => {
    const w = byName("any-push");
    expect(isTriggeredBy(w, { kind: "push", branch: "feature/x" })).toBe(true);
    expect(isTriggeredBy(w, { kind: "tag", tag: "v1" })).toBe(false);
  });

  it("matches branch and tag globs", () => {
    const w = byName("release");
    expect(isTriggeredBy(w, { kind: "push", branch: "main" })).toBe(true);
    expect(isTriggeredBy(w, { kind: "push", branch: "release/1.0" })).toBe(true);
    expect(isTriggeredBy(w, { kind: "push", branch: "release/1.0/hotfix" })).toBe(false);
    expect(isTriggeredBy(w, { kind: "push", branch: "mainline" })).toBe(false);
    expect(isTriggeredBy(w, { kind: "tag", tag: "v2.1" })).toBe(true);
    expect(isTriggeredBy(w, { kind: "tag", tag: "latest" })).toBe(false);
  });

  it("never runs a workflow without `on:` by itself", () => {
    const w = byName("manual");
    expect(isTriggeredBy(w, { kind: "push", branch: "main" })).toBe(false);
    expect(isTriggeredBy(w, { kind: "tag", tag: "v1" })).toBe(false);
  });
});

describe("globToRegExp", () => {
  it("treats `**` as any path, `?` as one character and regex characters literally", () => {
    expect(globToRegExp("feature/**").test("feature/a/b")).toBe(true);
    expect(globToRegExp("v?.0").test("v1.0")).toBe(true);
    expect(globToRegExp("v?.0").test("v1x0")).toBe(false);
    expect(globToRegExp("a+b").test("a+b")).toBe(true);
  });
});
