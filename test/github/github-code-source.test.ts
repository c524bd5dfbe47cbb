import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import pino from "pino";
import { Probot } from "probot";
import { x as untar } from "tar";
import { AppOctokit } from "../../src/github/app-octokit.js";
import type { GitHubClient } from "../../src/github/client.js";
import { createGitHubCodeSource } from "../../src/github/github-code-source.js";
import { GitHubRateGate } from "../../src/github/rate-gate.js";
import { rateLimitedClient } from "../../src/github/rate-limited-client.js";
import type { CodeSource } from "../../src/runs/code-source.js";
import type { Run } from "../../src/runs/types.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { TEST_PRIVATE_KEY } from "../helpers/test-keys.js";

/**
 * A GitHub run's code comes from GitHub's tarball endpoint through the installation's client, as
 * the service wires it: from the configured (Enterprise) API host even when it is the process's
 * first request for the installation, and never inside the installation's back-off window.
 * Found as a flaky rate-limit test: Probot's `octokit.auth({ type: "installation" })` asked
 * api.github.com for a token it had not cached, whatever GHE_HOST said.
 */

const OWNER = "acme";
const REPO = "codesource";

let redis: TestRedis;
let github: GitHubDouble;
let client: Redis;
let gate: GitHubRateGate;
let headSha: string;

beforeAll(async () => {
  redis = await startRedis("codesource");
  github = await startGitHubDouble();
  ({ sha: headSha } = github.addRepo({ owner: OWNER, name: REPO, files: { "hello.txt": "hello from the commit\n" } }));
  client = new Redis(redis.url);
  gate = new GitHubRateGate({ redis: client, prefix: redis.prefix });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await github?.close();
  await redis?.stop();
});

/** The service's code source on a new Probot (no token cached yet), its clients behind the shared gate. */
function freshCodeSource(): CodeSource {
  const probot = new Probot({ appId: github.appId, privateKey: TEST_PRIVATE_KEY, baseUrl: github.url, log: pino({ level: "silent" }), Octokit: AppOctokit });
  const installationClient = async (installationId: number): Promise<GitHubClient> =>
    rateLimitedClient((await probot.auth(installationId)) as unknown as GitHubClient, { gate, installationId });
  return createGitHubCodeSource({ github: installationClient });
}

const run = (): Run => ({ id: "r-code", repo: `${OWNER}/${REPO}`, commit: headSha, installationId: github.installationId, code: { kind: "github" } }) as Run;

/** Opens the run's code and unpacks it the way the agent does; returns the unpacked folder. */
async function unpack(source: CodeSource): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "dstack-code-"));
  const { stream, strip } = await source.open(run());
  await pipeline(stream, untar({ cwd: dir, strip }));
  return dir;
}

const tarballRequests = () => github.requests.filter((r) => r.path === `/repos/${OWNER}/${REPO}/tarball/${headSha}`);

describe("a GitHub run's code", () => {
  it("is streamed from the configured API host when the process has no installation token yet", async () => {
    const tokensBefore = github.installationTokens.length;
    const dir = await unpack(freshCodeSource());
    try {
      expect(await readFile(path.join(dir, "hello.txt"), "utf8")).toBe("hello from the commit\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The token was issued by this host (not fetched from api.github.com), and the tarball asked with it.
    expect(github.installationTokens.length).toBe(tokensBefore + 1);
    expect(tarballRequests().map((r) => `${r.auth} ${r.status}`)).toEqual([`installation:${github.installationId} 302`]);
    github.assertNoViolations();
  });

  it("is not asked for inside the installation's back-off window", async () => {
    const before = Date.now();
    await gate.backOff(github.installationId, 1500);
    const dir = await unpack(freshCodeSource());
    await rm(dir, { recursive: true, force: true });
    const asked = tarballRequests().at(-1);
    expect(asked?.status).toBe(302);
    expect((asked?.at.getTime() ?? 0) - before).toBeGreaterThanOrEqual(1500);
  });
});
