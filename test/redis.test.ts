import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { assertNoEviction, redact } from "../src/redis.js";
import { freePort, startRedis, type TestRedis } from "./helpers/redis.js";

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis("redis-policy");
  client = new Redis(redis.url);
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe("assertNoEviction", () => {
  it("accepts a Redis that never evicts", async () => {
    await client.config("SET", "maxmemory-policy", "noeviction");
    await expect(assertNoEviction(redis.url)).resolves.toBeUndefined();
  });

  it("refuses one that may evict keys, in one line that names the policy and the fix", async () => {
    await client.config("SET", "maxmemory-policy", "allkeys-lru");
    const err = await assertNoEviction(redis.url).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toContain("maxmemory-policy allkeys-lru");
    expect(err?.message).toContain("noeviction");
    expect(err?.message).not.toContain("\n");
    await client.config("SET", "maxmemory-policy", "noeviction");
  });

  it("lets start-up go on when Redis cannot be asked (the health check reports it)", async () => {
    await expect(assertNoEviction(`redis://127.0.0.1:${await freePort()}`, 500)).resolves.toBeUndefined();
  });

  it("never prints a Redis password", () => {
    expect(redact("redis://:hunter2@cache:6379/0")).not.toContain("hunter2");
  });
});
