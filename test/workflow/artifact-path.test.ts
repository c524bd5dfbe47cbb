import { describe, expect, it } from "@jest/globals";
import { normaliseArtifactPath } from "../../src/workflow/index.js";

describe("normaliseArtifactPath", () => {
  it("drops `./`, trailing `/` and empty segments, keeping absolute paths absolute", () => {
    expect(normaliseArtifactPath("./output/")).toEqual({ path: "output" });
    expect(normaliseArtifactPath("a//./b")).toEqual({ path: "a/b" });
    expect(normaliseArtifactPath("/root/.cache/huggingface/")).toEqual({ path: "/root/.cache/huggingface" });
    expect(normaliseArtifactPath("./")).toEqual({ path: "." });
  });

  it("refuses `..` and empty paths", () => {
    expect(normaliseArtifactPath("a/../../b")).toHaveProperty("error");
    expect(normaliseArtifactPath("/opt/../etc")).toHaveProperty("error");
    expect(normaliseArtifactPath("  ")).toHaveProperty("error");
  });
});
