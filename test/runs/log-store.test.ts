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

  it("holds about 4 MiB of a 64 MiB flood in Redis, in memory too", async () => {
    const chunk = Buffer.alloc(1024 * 1024, "x\n");
    const total = await appendAll("flood", Array.from({ length: 64 }, () => chunk));
    const entries = await client.xlen(store.streamKey("flood"));
    expect(entries).toBeLessThanOrEqual(6);
    expect(Number(await client.call("MEMORY", "USAGE", store.streamKey("flood")))).toBeLessThan(8 * 1024 * 1024);
    const tail = await store.tail("flood", 3 * 1024 * 1024);
    expect(tail.offset).toBe(total - 3 * 1024 * 1024);
  });

  it("splits an append bigger than an entry and reads it back whole", async () => {
    const big = Buffer.from("0123456789abcdef".repeat(200_000)); // 3.2 MB
    await store.append("big", 0, big);
    expect(await client.xlen(store.streamKey("big"))).toBe(4);
    const tail = await store.tail("big", big.length);
    expect(tail.data.equals(big)).toBe(true);
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
