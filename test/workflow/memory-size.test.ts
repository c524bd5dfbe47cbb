import { describe, expect, it } from "@jest/globals";
import { parseMemorySizeMiB } from "../../src/workflow/index.js";

describe("parseMemorySizeMiB", () => {
  it("reads sizes into MiB, GB and GiB alike as dstack did", () => {
    expect(parseMemorySizeMiB("16GB")).toBe(16384);
    expect(parseMemorySizeMiB("512MB")).toBe(512);
    expect(parseMemorySizeMiB("1.5GiB")).toBe(1536);
    expect(parseMemorySizeMiB("1 tb")).toBe(1048576);
    expect(parseMemorySizeMiB("2048")).toBe(2048);
    expect(parseMemorySizeMiB("100KB")).toBe(1);
  });

  it("refuses anything else", () => {
    for (const bad of ["", "GB", "16 gigs", "-1GB", "1e3MB", "16GBs"]) expect(parseMemorySizeMiB(bad)).toBeUndefined();
  });
});
