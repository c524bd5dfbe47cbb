import { describe, expect, it } from "@jest/globals";
import { LogShipper } from "../../../runners/agent/log-shipper.js";

/** A client that records each batch with its offset header. */
function recorder(fail?: (n: number) => boolean) {
  const batches: Array<{ offset: number; text: string }> = [];
  let n = 0;
  return {
    batches,
    client: {
      async postBytes(_path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
        n++;
        if (fail?.(n) === true) throw new Error("service down");
        batches.push({ offset: Number(headers["x-dstack-offset"]), text: body.toString() });
        return { status: 200, text: "{}" };
      },
    },
  };
}

describe("LogShipper", () => {
  it("sends everything in order, each batch tagged with its byte offset and ending at a line", async () => {
    const { client, batches } = recorder();
    const shipper = new LogShipper(client, { maxBatchBytes: 10, flushIntervalMs: 5 });
    for (const piece of ["aaa\nbb", "b\ncccc\n", "dddddd\ne", "ee\n", "tail"]) shipper.write(piece);
    await shipper.flush();
    expect(batches.map((b) => b.text).join("")).toBe("aaa\nbbb\ncccc\ndddddd\neee\ntail");
    let offset = 0;
    for (const b of batches) {
      expect(b.offset).toBe(offset);
      offset += b.text.length;
      expect(b.text.length).toBeLessThanOrEqual(10);
    }
    for (const b of batches.slice(0, -1)) expect(b.text.endsWith("\n")).toBe(true);
  });

  it("ships a big backlog in bounded batches without losing or reordering bytes", async () => {
    const { client, batches } = recorder();
    const shipper = new LogShipper(client, { maxBatchBytes: 1000, highWaterBytes: 1 << 30 });
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`);
    for (const l of lines) shipper.write(l);
    await shipper.flush();
    expect(batches.map((b) => b.text).join("")).toBe(lines.join(""));
    expect(Math.max(...batches.map((b) => b.text.length))).toBeLessThanOrEqual(1000);
  });

  it("asks producers to pause above the high-water mark and lets them go once drained", async () => {
    const { client } = recorder();
    const shipper = new LogShipper(client, { maxBatchBytes: 100, highWaterBytes: 300 });
    let accepted = true;
    for (let i = 0; i < 50 && accepted; i++) accepted = shipper.write(`${"x".repeat(19)}\n`);
    expect(accepted).toBe(false);
    await shipper.drained();
    await shipper.flush();
  });

  it("counts what it could not deliver and keeps going (a log never fails a run)", async () => {
    const { client, batches } = recorder((n) => n === 1);
    const shipper = new LogShipper(client, { maxBatchBytes: 4 });
    shipper.write("one\n");
    await shipper.flush();
    shipper.write("two\n");
    await shipper.flush();
    expect(shipper.droppedBytes).toBe(4);
    expect(batches).toEqual([{ offset: 4, text: "two\n" }]);
  });
});
