import { readFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { LogStore } from "../../src/runs/log-store.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let redis: TestRedis;
let client: Redis;
let dir: string;
let store: LogStore;

beforeAll(async () => {
  redis = await startRedis("log-store");
  client = new Redis(redis.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-logs-"));
  store = new LogStore({ redis: client, prefix: redis.prefix, dir });
});

afterAll(async () => {
  await store?.close();
  client?.disconnect();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function appendAll(runId: string, chunks: Buffer[]): Promise<number> {
  let offset = 0;
  for (const c of chunks) {
    await store.append(runId, offset, c);
    offset += c.length;
  }
  return offset;
}

describe("LogStore", () => {
  it("keeps the whole log in the file and its end in Redis, with the offset the tail starts at", async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => Buffer.from(`line ${i}\n`));
    const total = await appendAll("slow", lines);
    await store.finish("slow");
    expect(await readFile(store.filePath("slow"), "utf8")).toBe(Buffer.concat(lines).toString());
    const tail = await store.tail("slow", 100);
    expect(tail.data.length).toBe(100);
    expect(tail.offset).toBe(total - 100);
    expect(tail.data.toString().endsWith("line 999\n")).toBe(true);
  });

  it("keeps megabytes of tail for a slow log, not just its last few appends", async () => {
    // One line per append, as a workflow printing once a second produces.
    const lines = Array.from({ length: 2000 }, (_, i) => Buffer.from(`epoch ${i} loss 0.${i}\n`));
    await appendAll("lines", lines);
    const tail = await store.tail("lines", 60_000);
    expect(tail.data.toString()).toBe(Buffer.concat(lines).toString());
    expect(tail.offset).toBe(0);
  });

  it("holds a few MiB of a 64 MiB flood in Redis", async () => {
    const chunk = Buffer.alloc(1024 * 1024, "x\n");
    const total = await appendAll("flood", Array.from({ length: 64 }, () => chunk));
    expect(Number(await client.call("MEMORY", "USAGE", store.streamKey("flood")))).toBeLessThan(8 * 1024 * 1024);
    const tail = await store.tail("flood", 100_000);
    expect(tail.offset).toBe(total - 100_000);
  });

  it("keeps only the end of a flood's big append in Redis, from a line start, and tails contiguous bytes", async () => {
    const line = "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n"; // 58 bytes
    const small = Buffer.from("before the flood\n");
    const big = Buffer.from(line.repeat(50_000)); // 2.9 MB in one append
    await store.append("big", 0, small);
    await store.append("big", small.length, big);
    await store.finish("big");
    expect((await readFile(store.filePath("big"))).length).toBe(small.length + big.length);
    const entries = await store.readAfter("big", "0");
    expect(entries).toHaveLength(2);
    const last = entries[1];
    expect(last?.data.length).toBeLessThanOrEqual(256 * 1024);
    expect(last?.data.toString().startsWith(line)).toBe(true);
    expect((last?.offset ?? 0) + (last?.data.length ?? 0)).toBe(small.length + big.length);
    // The first entry does not join up with the sampled one: the tail stops at the skip.
    const tail = await store.tail("big", 10 * 1024 * 1024);
    expect(tail.offset).toBe(last?.offset);
    expect(tail.data.equals(last?.data ?? Buffer.alloc(0))).toBe(true);
  });

  it("ignores an append replayed at an offset it already stored", async () => {
    await store.append("replay", 0, Buffer.from("first\n"));
    await store.append("replay", 0, Buffer.from("first\n"));
    await store.append("replay", 6, Buffer.from("second\n"));
    expect(await client.xlen(store.streamKey("replay"))).toBe(2);
    expect((await store.tail("replay", 1000)).data.toString()).toBe("first\nsecond\n");
  });

  it("returns entries after a stream id for live follow", async () => {
    await appendAll("follow", [Buffer.from("a\n"), Buffer.from("b\n"), Buffer.from("c\n")]);
    const all = await store.readAfter("follow", "0");
    expect(all.map((e) => e.data.toString())).toEqual(["a\n", "b\n", "c\n"]);
    const rest = await store.readAfter("follow", all[0]?.id ?? "");
    expect(rest.map((e) => e.offset)).toEqual([2, 4]);
  });
});
