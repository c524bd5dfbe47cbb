import { stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * Output no log viewer expects: a 100 MB line without a newline, invalid UTF-8, ANSI escapes and
 * `\r` progress bars. The run must end `done`, the service keep every byte in the full log while
 * holding only bounded chunks in memory, and GitHub get a short, clean tail.
 */
const OWNER = "acme";
const REPO = "hostile";
const LINE_BYTES = 100 * 1024 * 1024;
const WORKFLOWS = `workflows:
  - name: giant-line
    provider: bash
    commands:
      - head -c ${LINE_BYTES} /dev/zero | tr '\\0' 'x'
      - echo
      - echo "after the giant line"
  - name: messy
    provider: bash
    commands:
      - |
        printf 'bad utf-8: \\xff\\xfe\\xc3(\\n'
      - |
        printf '\\033[1;31mred\\033[0m and \\033[2Kcleared\\n'
      - |
        for p in 10 50 100; do printf '\\rtraining %s%%' $p; sleep 0.05; done; echo
      - echo done
`;

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let pr: number;
let nextComment = 1;

async function run(workflow: string) {
  const commentId = nextComment++;
  const body = `/dstack run ${workflow}`;
  github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber: pr, body, user: "alice", id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: pr, isPullRequest: true, body, user: "alice", commentId });
  await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
  return github.waitFor((g) => g.checkRuns.find((c) => c.name === `dstack: ${workflow}` && c.status === "completed"), { timeoutMs: 50_000 });
}

beforeAll(async () => {
  redis = await startRedis("hostile-output");
  github = await startGitHubDouble();
  github.addRepo({ owner: OWNER, name: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  github.createBranch(OWNER, REPO, "feature");
  github.commit(OWNER, REPO, { "x.txt": "x\n" }, { branch: "feature" });
  pr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature" });
  github.setPermission(OWNER, REPO, "alice", "write");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
});

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
});

describe("hostile workflow output", () => {
  it("stores a 100 MB line without a newline whole, in bounded chunks, and shows GitHub a short tail", async () => {
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    try {
      const done = await run("giant-line");
      expect(done.conclusion).toBe("success");
      const text = done.output.text ?? "";
      expect(text.length).toBeLessThanOrEqual(65535);
      expect(text).toContain("after the giant line");
      const run_ = await service.store.get(done.external_id ?? "");
      expect(run_.logBytes).toBeGreaterThanOrEqual(LINE_BYTES);
      expect((await stat(`${service.dataDir}/logs/${run_.id}.log`)).size).toBe(run_.logBytes);
      // Redis holds a few MiB of it, not the line.
      expect(Number(await service.redis.call("MEMORY", "USAGE", `${redis.prefix}:log:${run_.id}`))).toBeLessThan(8 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    const grownMiB = (peakRss - rssBefore) / (1024 * 1024);
    process.stdout.write(`service (in-process) RSS growth while a 100 MB line streamed: ${grownMiB.toFixed(0)} MiB\n`);
    expect(grownMiB).toBeLessThan(200);
  });

  it("renders invalid UTF-8, ANSI escapes and \\r progress bars as clean text", async () => {
    const done = await run("messy");
    expect(done.conclusion).toBe("success");
    const text = done.output.text ?? "";
    expect(text).toContain("bad utf-8: \ufffd\ufffd\ufffd(");
    expect(text).toContain("red and cleared");
    expect(text).not.toContain("\x1b");
    expect(text).toContain("training 100%");
    expect(text).not.toContain("training 10%");
    expect(text).toContain("done");
    github.assertNoViolations();
  });
});
