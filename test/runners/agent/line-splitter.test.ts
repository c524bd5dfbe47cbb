import { describe, expect, it } from "@jest/globals";
import { LineSplitter } from "../../../runners/agent/line-splitter.js";
import { SecretMasker } from "../../../src/runs/secret-masker.js";

function collect(max?: number) {
  const out: string[] = [];
  const s = new LineSplitter((b) => out.push(b.toString()), max);
  return { s, out };
}

describe("LineSplitter", () => {
  it("passes on whole lines only, joining a line split across reads", () => {
    const { s, out } = collect();
    s.write(Buffer.from("one\ntw"));
    s.write(Buffer.from("o\nthr"));
    expect(out).toEqual(["one\n", "two\n"]);
    s.end();
    expect(out).toEqual(["one\n", "two\n", "thr"]);
  });

  it("streams a giant line without newlines in pieces of the maximum size", () => {
    const { s, out } = collect(4);
    s.write(Buffer.from("abcdefghij"));
    expect(out).toEqual(["abcd", "efgh"]);
    s.write(Buffer.from("k\n"));
    expect(out).toEqual(["abcd", "efgh", "ijk\n"]);
  });

  it("ships whole masked lines when a secret arrives in two reads (masking stream first, as the agent does)", () => {
    const masking = new SecretMasker(["hunter2-secret"]).stream();
    const shipped: string[] = [];
    const s = new LineSplitter((b) => shipped.push(b.toString()));
    s.write(masking.write(Buffer.from("token=hunter2-")));
    expect(shipped).toEqual([]);
    s.write(masking.write(Buffer.from("secret ok\nnext")));
    expect(shipped).toEqual(["token=*** ok\n"]);
    s.write(masking.flush());
    s.end();
    expect(shipped).toEqual(["token=*** ok\n", "next"]);
  });

  it("does not keep a reference to a buffer the stream may reuse", () => {
    const { s, out } = collect();
    const reused = Buffer.from("part");
    s.write(reused);
    reused.write("XXXX");
    s.write(Buffer.from("\n"));
    expect(out).toEqual(["part\n"]);
  });
});
