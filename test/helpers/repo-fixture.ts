import { startGitHubDouble, type GitHubDouble } from "./github-double.js";
import { startRedis, type TestRedis } from "./redis.js";
import { startTestService, type TestService } from "./service.js";

/** A repository on the GitHub double and the whole service watching it, on a Redis of its own. */
export interface RepoFixture {
  redis: TestRedis;
  github: GitHubDouble;
  service: TestService;
  owner: string;
  repo: string;
  /** Stops the service, then the double, then Redis. */
  stop(): Promise<void>;
}

export interface RepoFixtureOptions {
  /** Names the Redis prefix of the test file. */
  name: string;
  /** Default: `acme`. */
  owner?: string;
  /** Default: `name`. */
  repo?: string;
  /** Files of the repository's `main` branch (`.dstack/workflows.yaml` and what it runs). */
  files: Record<string, string>;
  /** Users given write permission. Default: `alice`. */
  writers?: string[];
  /** Users given read permission. Default: none. */
  readers?: string[];
  service?: Omit<Parameters<typeof startTestService>[0], "redisUrl" | "prefix" | "github">;
}

/** Starts Redis, the double with the repository, and the service; stops what started if a later step fails. */
export async function startRepoFixture(options: RepoFixtureOptions): Promise<RepoFixture> {
  const owner = options.owner ?? "acme";
  const repo = options.repo ?? options.name;
  const redis = await startRedis(options.name);
  const github = await startGitHubDouble().catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  // A test file whose beforeAll threw has no fixture to stop, and a running redis-server would keep Jest alive.
  const stopDoubles = async () => {
    await github.close();
    await redis.stop();
  };
  let service: TestService;
  try {
    github.addRepo({ owner, name: repo, files: options.files });
    for (const user of options.writers ?? ["alice"]) github.setPermission(owner, repo, user, "write");
    for (const user of options.readers ?? []) github.setPermission(owner, repo, user, "read");
    service = await startTestService({ ...options.service, redisUrl: redis.url, prefix: redis.prefix, github });
  } catch (err) {
    await stopDoubles();
    throw err;
  }
  return {
    redis,
    github,
    service,
    owner,
    repo,
    async stop() {
      await service.stop();
      await stopDoubles();
    },
  };
}
