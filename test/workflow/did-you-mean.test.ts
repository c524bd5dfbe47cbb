import { describe, expect, it } from "@jest/globals";
import { closestMatch, didYouMean, editDistance } from "../../src/workflow/did-you-mean.js";

describe("didYouMean", () => {
  it("counts a swapped pair of letters as one edit", () => {
    expect(editDistance("trian", "train")).toBe(1);
    expect(editDistance("artifiacts", "artifacts")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("finds typos, `-`/`_` and case slips, and stays quiet when nothing is close", () => {
    expect(closestMatch("downlaod", ["download", "train"])).toBe("download");
    expect(closestMatch("working-dir", ["working_dir", "requirements"])).toBe("working_dir");
    expect(closestMatch("Artifacts", ["artifacts"])).toBe("artifacts");
    expect(closestMatch("xyz", ["download", "train"])).toBeUndefined();
    expect(closestMatch("ab", ["ac"])).toBeUndefined();
    expect(didYouMean("gpus", ["gpu", "cpu"])).toBe(" — did you mean `gpu`?");
    expect(didYouMean("zzzzzz", ["gpu"])).toBe("");
  });
});
