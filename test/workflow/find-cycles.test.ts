import { describe, expect, it } from "@jest/globals";
import { findCycles } from "../../src/workflow/find-cycles.js";

describe("findCycles", () => {
  const graph = (edges: Record<string, string[]>) => (n: string) => edges[n] ?? [];

  it("finds every cycle once, from its earliest node", () => {
    const edges = graph({ a: ["b"], b: ["c"], c: ["a", "d"], d: [], e: ["e"], f: ["g"], g: ["f"] });
    expect(findCycles(["a", "b", "c", "d", "e", "f", "g"], edges)).toEqual([
      ["a", "b", "c", "a"],
      ["e", "e"],
      ["f", "g", "f"],
    ]);
  });

  it("finds none in a DAG, and ignores edges to unknown nodes", () => {
    expect(findCycles(["a", "b", "c"], graph({ a: ["b", "c", "x"], b: ["c"] }))).toEqual([]);
  });
});
