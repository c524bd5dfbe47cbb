import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { canWrite, permissionOf } from "../../src/github/permissions.js";
import type { GitHubClient } from "../../src/github/client.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis("permissions");
  client = new Redis(redis.url);
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** A GitHub client that answers the collaborator permission route from a table, counting calls. */
function fakeGitHub(table: Record<string, { permission: string; role_name?: string; user?: { id: number } } | 404>): GitHubClient & { calls: number } {
  const github = {
    calls: 0,
    async request(route: string, params?: Record<string, unknown>) {
      expect(route).toBe("GET /repos/{owner}/{repo}/collaborators/{username}/permission");
      github.calls++;
      const answer = table[String(params?.username)];
      if (answer === undefined || answer === 404) throw Object.assign(new Error("Not Found"), { status: 404 });
      return { status: 200, data: answer };
    },
  };
  return github;
}

describe("permissionOf and canWrite", () => {
  it("lets admin, maintain and write start runs, and refuses triage, read and strangers", async () => {
    const github = fakeGitHub({
      ada: { permission: "admin", role_name: "admin" },
      max: { permission: "write", role_name: "maintain" },
      wes: { permission: "write", role_name: "write" },
      tia: { permission: "read", role_name: "triage" },
      rey: { permission: "read", role_name: "read" },
    });
    const deps = { github, redis: client, prefix: `${redis.prefix}:a` };
    const of = (user: string) => permissionOf(deps, { owner: "o", repo: "r", user });
    expect(await of("ada")).toBe("admin");
    expect(await of("max")).toBe("maintain");
    expect(await of("wes")).toBe("write");
    expect(await of("tia")).toBe("triage");
    expect(await of("rey")).toBe("read");
    expect(await of("stranger")).toBe("none");
    expect(["admin", "maintain", "write"].every((p) => canWrite(p as never))).toBe(true);
    expect(["triage", "read", "none"].some((p) => canWrite(p as never))).toBe(false);
  });

  it("falls back to `permission` when GitHub sends no role_name (older GHES)", async () => {
    const github = fakeGitHub({ old: { permission: "write" } });
    expect(await permissionOf({ github, redis: client, prefix: `${redis.prefix}:b` }, { owner: "o", repo: "r", user: "old" })).toBe("write");
  });

  it("asks GitHub once per user and repository for a minute, case-insensitively", async () => {
    const github = fakeGitHub({ Wes: { permission: "write", role_name: "write" } });
    const deps = { github, redis: client, prefix: `${redis.prefix}:c` };
    await permissionOf(deps, { owner: "o", repo: "r", user: "Wes" });
    await permissionOf(deps, { owner: "o", repo: "r", user: "wes" });
    expect(github.calls).toBe(1);
    const ttl = await client.ttl(`${redis.prefix}:c:perm:o/r:wes`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    await permissionOf(deps, { owner: "o", repo: "other", user: "Wes" });
    expect(github.calls).toBe(2);
  });

  it("caches by user id, and counts GitHub's answer about a login only when it is about the account the event named", async () => {
    const github = fakeGitHub({ alice: { permission: "write", role_name: "write", user: { id: 7 } } });
    const deps = { github, redis: client, prefix: `${redis.prefix}:e` };
    expect(await permissionOf(deps, { owner: "o", repo: "r", user: "alice", userId: 7 })).toBe("write");
    expect(await client.get(`${redis.prefix}:e:perm:o/r:#7`)).toBe("write");
    // Account 8 now holds the login `alice` in an event: it neither reads account 7's cached answer
    // nor takes GitHub's answer about account 7 as its own.
    expect(await permissionOf(deps, { owner: "o", repo: "r", user: "alice", userId: 8 })).toBe("none");
    expect(github.calls).toBe(2);
    // Account 7 under a new login reads its own cached answer.
    expect(await permissionOf(deps, { owner: "o", repo: "r", user: "alice-renamed", userId: 7 })).toBe("write");
    expect(github.calls).toBe(2);
  });

  it("lets GitHub failures other than 404 through, caching nothing", async () => {
    const github: GitHubClient = {
      request: async () => {
        throw Object.assign(new Error("Service Unavailable"), { status: 503 });
      },
    };
    const deps = { github, redis: client, prefix: `${redis.prefix}:d` };
    await expect(permissionOf(deps, { owner: "o", repo: "r", user: "x" })).rejects.toThrow("Service Unavailable");
    expect(await client.exists(`${redis.prefix}:d:perm:o/r:x`)).toBe(0);
  });
});
