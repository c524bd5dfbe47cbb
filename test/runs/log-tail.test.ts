import { describe, expect, it } from "@jest/globals";
import { logTailWindow, stripAnsi } from "../../src/runs/log-tail.js";

const tail = (text: string, offset = 0) => ({ offset, data: Buffer.from(text) });

describe("logTailWindow", () => {
  it("shows a short log whole, without its final newline", () => {
    expect(logTailWindow(tail("one\ntwo\n"), 1000)).toEqual({ text: "one\ntwo", omittedBytes: 0 });
  });

  it("keeps the end of a long log, cut at a line boundary, and counts what it left out in bytes", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, "0")}`);
    const w = logTailWindow(tail(lines.join("\n") + "\n"), 100);
    expect(w.text.length).toBeLessThanOrEqual(100);
    expect(w.text.startsWith("line ")).toBe(true);
    expect(w.text.endsWith("line 099")).toBe(true);
    const shown = w.text.split("\n").length;
    expect(w.omittedBytes).toBe((100 - shown) * "line 000\n".length);
  });

  it("never exceeds the limit, even for one enormous line", () => {
    const w = logTailWindow(tail("x".repeat(200_000)), 65_000);
    expect(w.text.length).toBe(65_000);
    expect(w.omittedBytes).toBe(135_000);
  });

  it("counts omitted multi-byte characters as bytes, not characters", () => {
    const w = logTailWindow(tail("é".repeat(10) + "\nend\n"), 4);
    expect(w.text).toBe("end");
    expect(w.omittedBytes).toBe(21);
  });

  it("drops the partial first line of a tail that starts mid-log, adding it to the omitted bytes", () => {
    const w = logTailWindow(tail("ial line\nnext\nlast\n", 500), 1000);
    expect(w.text).toBe("next\nlast");
    expect(w.omittedBytes).toBe(509);
  });

  it("collapses carriage-return progress bars to their final state", () => {
    const w = logTailWindow(tail("epoch 1\r 10%\r 50%\r100%\ndone\r\n"), 1000);
    expect(w.text).toBe("100%\ndone");
  });

  it("removes ANSI colours and cursor moves", () => {
    expect(stripAnsi("\x1b[31mred\x1b[0m \x1b[2Kcleared \x1b]0;title\x07ok")).toBe("red cleared ok");
    expect(logTailWindow(tail("\x1b[1;32mPASS\x1b[0m\n"), 100).text).toBe("PASS");
  });
});
