import { describe, expect, it } from "@jest/globals";
import { formatDependencyRef, parseDependencyRef } from "../../src/workflow/index.js";

describe("parseDependencyRef", () => {
  it("reads every 2022 form", () => {
    expect(parseDependencyRef("download")).toEqual({ kind: "workflow", workflow: "download" });
    expect(parseDependencyRef("download:v0.0.2")).toEqual({ kind: "tag", tag: "v0.0.2", workflow: "download" });
    expect(parseDependencyRef(":some_tag")).toEqual({ kind: "tag", tag: "some_tag" });
    expect(parseDependencyRef("dstackai/dstack/hello-txt")).toEqual({ kind: "tag", tag: "latest", workflow: "hello-txt", repo: "dstackai/dstack" });
    expect(parseDependencyRef("dstackai/dstack/:txt-file")).toEqual({ kind: "tag", tag: "txt-file", repo: "dstackai/dstack" });
  });

  it("refuses malformed ones with the way to write them", () => {
    for (const bad of ["", ":", "a b", "a:b:c", "org/name", "a/b/c/d", "a:"]) expect(parseDependencyRef(bad)).toHaveProperty("error");
    expect(parseDependencyRef("org/name")).toEqual({ error: "`org/name` is not a dependency; another repository's workflow is written `owner/repo/name` (or `owner/repo/name:tag`)" });
  });

  it("writes them back as a user would", () => {
    for (const text of ["download", "download:v1", ":best", "o/r/w:latest"]) {
      const ref = parseDependencyRef(text);
      if ("error" in ref) throw new Error(ref.error);
      expect(formatDependencyRef(ref)).toBe(text);
    }
  });
});
