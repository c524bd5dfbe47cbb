import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * A browser signed in with the API token keeps a stateless, signed cookie for 7 days. The signing key
 * lives in the data dir and survives a restart; the cookie is bound to the API token too, so replacing
 * a leaked DSTACK_API_TOKEN ends the sessions opened with it.
 */

let redis: TestRedis;
let dataDir: string;

beforeAll(async () => {
  redis = await startRedis("session-token-rotation");
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-session-rotation-"));
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/** The service on the shared data dir with `token` as its API token, for the length of `fn`. */
async function withService<T>(token: string, fn: (service: TestService) => Promise<T>): Promise<T> {
  const service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, dataDir, env: { DSTACK_API_TOKEN: token } });
  try {
    return await fn(service);
  } finally {
    await service.stop();
  }
}

/** The status of the API's run list for a browser holding `cookie`. */
async function listWith(service: TestService, cookie: string): Promise<number> {
  return (await fetch(`${service.url}/api/v1/runs`, { headers: { cookie, accept: "application/json" } })).status;
}

describe("browser sessions opened with the API token", () => {
  it("end when the API token is replaced, and only then", async () => {
    const oldToken = "old-token-0123456789abcdefghijkl";
    const cookie = await withService(oldToken, async (service) => {
      const res = await fetch(`${service.url}/login`, { method: "POST", body: new URLSearchParams({ token: oldToken, next: "/" }), redirect: "manual" });
      expect(res.status).toBe(303);
      const pair = res.headers.getSetCookie().find((c) => c.startsWith("dstack_session="))?.split(";")[0] ?? "";
      expect(await listWith(service, pair)).toBe(200);
      return pair;
    });
    expect(await withService(oldToken, (service) => listWith(service, cookie))).toBe(200);
    expect(await withService("new-token-0123456789abcdefghijkl", (service) => listWith(service, cookie))).toBe(401);
  }, 60_000);
});
