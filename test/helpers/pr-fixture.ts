import { startGitHubDouble, type GitHubDouble } from "./github-double.js";
import { startRedis, type TestRedis } from "./redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "./service.js";
import { makeIssueCommentPayload, signAndSend } from "./webhooks.js";

/** A repository with a pull request on the GitHub double, and the whole service watching it. */
export interface PrFixture {
  redis: TestRedis;
  github: GitHubDouble;
  service: TestService;
  owner: string;
  repo: string;
  /** The pull request's number and head commit (branch `feature`, one commit past `main`). */
  pr: number;
  headSha: string;
  /** Posts `body` as a PR comment on the double and delivers its `issue_comment` webhook, signed. */
  comment(body: string, user?: string): Promise<{ status: number; body: string; deliveryId: string; commentId: number }>;
  stop(): Promise<void>;
}

export interface PrFixtureOptions {
  /** Names the Redis prefix of the test file. */
  name: string;
  owner?: string;
  repo?: string;
  /** Files of the repository's `main` branch (`.dstack/workflows.yaml` and what it runs). */
  files: Record<string, string>;
  /** Users given write permission. Default: `alice`. */
  writers?: string[];
  service?: Omit<Parameters<typeof startTestService>[0], "redisUrl" | "prefix" | "github">;
}

export async function startPrFixture(options: PrFixtureOptions): Promise<PrFixture> {
  const owner = options.owner ?? "acme";
  const repo = options.repo ?? options.name;
  const redis = await startRedis(options.name);
  const github = await startGitHubDouble();
  github.addRepo({ owner, name: repo, files: options.files });
  github.createBranch(owner, repo, "feature");
  const headSha = github.commit(owner, repo, { "feature.txt": "x\n" }, { branch: "feature" });
  const pr = github.addPullRequest({ owner, repo, headRef: "feature" });
  for (const user of options.writers ?? ["alice"]) github.setPermission(owner, repo, user, "write");
  const service = await startTestService({ ...options.service, redisUrl: redis.url, prefix: redis.prefix, github });
  let nextComment = 1;
  return {
    redis,
    github,
    service,
    owner,
    repo,
    pr,
    headSha,
    async comment(body, user = "alice") {
      const commentId = nextComment++;
      github.addIssueComment({ owner, repo, issueNumber: pr, body, user, id: commentId });
      const payload = makeIssueCommentPayload({ owner, repo, issueNumber: pr, isPullRequest: true, body, user, commentId });
      const res = await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
      return { ...res, commentId };
    },
    async stop() {
      await service.stop();
      await github.close();
      await redis.stop();
    },
  };
}
