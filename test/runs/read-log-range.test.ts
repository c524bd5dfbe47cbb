import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { createFileArtifactStore } from "../../src/artifacts/index.js";
import type { ArtifactStore } from "../../src/artifacts/index.js";
import { LogStore } from "../../src/runs/log-store.js";
import { readLogRange } from "../../src/runs/read-log-range.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let redis: TestRedis;
let client: Redis;
let dir: string;
let logs: LogStore;
let artifacts: ArtifactStore;

beforeAll(async () => {
  redis = await startRedis("read-log-range");
  client = new Redis(redis.url);
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-log-range-"));
  logs = new LogStore({ redis: client, prefix: redis.prefix, dir: path.join(dir, "logs") });
  artifacts = createFileArtifactStore({ root: path.join(dir, "artifacts"), publicUrl: "http://127.0.0.1", signingKey: randomBytes(32) });
});

afterAll(async () => {
  await logs?.close();
  client?.disconnect();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Appends `count` lines of `width` bytes in appends of `perAppend` lines; returns the whole text. */
async function writeLog(runId: string, count: number, width: number, perAppend: number): Promise<Buffer> {
  const lines = Array.from({ length: count }, (_, i) => Buffer.from(`${String(i).padStart(8, "0")} ${"x".repeat(width - 10)}\n`));
  let offset = 0;
  for (let i = 0; i < lines.length; i += perAppend) {
    const chunk = Buffer.concat(lines.slice(i, i + perAppend));
    await logs.append(runId, offset, chunk);
    offset += chunk.length;
  }
  return Buffer.concat(lines);
}

describe("readLogRange", () => {
  it("reads the end of the log from the Redis tail, at the exact offset asked", async () => {
    const text = await writeLog("recent", 200, 100, 10);
    const run = { id: "recent", status: "running" as const, logBytes: text.length };
    const range = await readLogRange({ logs, artifacts }, run, 1234, 500);
    expect(range).toEqual({ offset: 1234, data: text.subarray(1234, 1734) });
    expect(await readLogRange({ logs, artifacts }, run, text.length, 500)).toEqual({ offset: text.length, data: Buffer.alloc(0) });
  });

  it("reads the file when the range is older than the Redis tail", async () => {
    // 12 MB in 100 kB appends: Redis keeps about the last 4 MiB.
    const text = await writeLog("long", 120_000, 100, 1000);
    const run = { id: "long", status: "running" as const, logBytes: text.length };
    expect((await logs.readTail("long", 0, 100)).data.length).toBe(0);
    const range = await readLogRange({ logs, artifacts }, run, 10, 1_000_000);
    expect(range.offset).toBe(10);
    expect(range.data.equals(text.subarray(10, 1_000_010))).toBe(true);
  });

  it("reads an ended run's log from the artifact store when this process has no file, and jumps over a flood's skipped part otherwise", async () => {
    // One 1 MiB append: Redis keeps only its last 256 KiB.
    const text = await writeLog("flood", 10_000, 100, 10_000);
    await logs.close();
    await rm(logs.filePath("flood"));
    const running = { id: "flood", status: "running" as const, logBytes: text.length };
    const jumped = await readLogRange({ logs, artifacts }, running, 0, 4096);
    expect(jumped.data.length).toBe(0);
    expect(jumped.offset).toBeGreaterThan(text.length - 300 * 1024);
    const next = await readLogRange({ logs, artifacts }, running, jumped.offset, 4096);
    expect(next.data.equals(text.subarray(jumped.offset, jumped.offset + 4096))).toBe(true);

    await artifacts.put("runs/flood/log.txt", Readable.from([text]));
    const ended = { ...running, status: "done" as const };
    const stored = await readLogRange({ logs, artifacts }, ended, 5, 100);
    expect(stored).toEqual({ offset: 5, data: text.subarray(5, 105) });
  });
});
