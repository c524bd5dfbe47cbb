import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { buildTinyWheel } from "../helpers/python-wheel.js";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.js";
import { startS3Server } from "../helpers/s3-server.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";
import { isRunning } from "../helpers/process-state.js";

const OWNER = "acme";
const REPO = "lifecycle";
const WORKFLOWS = `workflows:
  - name: sleeper
    provider: bash
    commands:
      - echo "sleeping"
      - sleep 30
  - name: slow
    provider: bash
    commands:
      - echo "step one"
      - sleep 5
      - echo "step two"
  - name: train
    provider: python
    file: train.py
    requirements: requirements.txt
    artifacts: [model]
`;
const BROKEN = `${WORKFLOWS}  - name: broken
    provider: bash
    commands: [ "echo hi" ]
    artifiacts: [out]
`;
const TRAIN = `import os, tinypkg
os.makedirs("model", exist_ok=True)
open("model/weights.txt", "w").write("weights " + tinypkg.VALUE + "\\n")
print("trained with", tinypkg.VALUE)
`;

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let pr: number;
let wheelDir: string;
let nextComment = 5000;

async function comment(body: string, user = "alice", issueNumber = pr) {
  const commentId = nextComment++;
  github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber, body, user, id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber, isPullRequest: true, body, user, commentId });
  return signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
}

const completed = (name: string, after = 0) =>
  github.waitFor((g) => g.checkRuns.find((c) => c.name === `dstack: ${name}` && c.status === "completed" && c.id > after), { timeoutMs: 60_000 });

let s3: Awaited<ReturnType<typeof startS3Server>>;
let port: number;

beforeAll(async () => {
  wheelDir = await mkdtemp(path.join(os.tmpdir(), "dstack-wheels-"));
  buildTinyWheel(wheelDir);
  await writeFile(path.join(wheelDir, "marker"), "");
  redis = await startRedis("lifecycle");
  s3 = await startS3Server({ buckets: ["artifacts"] });
  github = await startGitHubDouble();
  github.addRepo({
    owner: OWNER,
    name: REPO,
    files: { ".dstack/workflows.yaml": WORKFLOWS, "train.py": TRAIN, "requirements.txt": "tinypkg\n" },
  });
  github.createBranch(OWNER, REPO, "feature");
  github.commit(OWNER, REPO, { "notes.txt": "x\n" }, { branch: "feature" });
  pr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature" });
  github.setPermission(OWNER, REPO, "alice", "admin");
  port = await freePort();
  service = await startLifecycleService();
});

function startLifecycleService(dataDir?: string): Promise<TestService> {
  return startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    github,
    dataDir,
    env: {
      PORT: String(port),
      DSTACK_PUBLIC_URL: `http://127.0.0.1:${port}`,
      DSTACK_ARTIFACTS: "s3://artifacts/team",
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    },
    overrides: { agentEnv: { PIP_NO_INDEX: "1", PIP_FIND_LINKS: wheelDir } },
  });
}

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await s3?.close();
  await redis?.stop();
  await rm(wheelDir, { recursive: true, force: true });
});

describe("run lifecycle on real parts", () => {
  it("runs a python workflow with requirements in a cached venv and links its S3 artifact with a presigned URL", async () => {
    await comment("/dstack run train");
    const done = await completed("train");
    expect(done.output.text).toContain("trained with 42");
    expect(done.conclusion).toBe("success");
    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("dstack: train")), { timeoutMs: 10_000 });
    const url = /\[model\/weights\.txt\]\(([^)]+)\)/.exec(report.body)?.[1] ?? "";
    expect(url).toContain("X-Amz-Signature");
    const res = await fetch(url);
    expect(await res.text()).toBe("weights 42\n");

    // The second run reuses the environment.
    await comment("/dstack run train");
    const second = await completed("train", done.id);
    expect(second.output.text).toContain("reusing the python environment");
  });

  it("ends a run `failed` with the reason when its agent is killed, and concludes the check run", async () => {
    await comment("/dstack run sleeper");
    const running = await github.waitFor(
      (g) => g.checkRuns.find((c) => c.name === "dstack: sleeper" && c.status === "in_progress" && (c.output.text ?? "").includes("sleeping")),
      { timeoutMs: 20_000 },
    );
    const run = await service.store.get(running.external_id);
    expect(run.machine).toBeDefined();
    process.kill(Number(run.machine?.id), "SIGKILL");
    const done = await completed("sleeper");
    expect(done.conclusion).toBe("failure");
    expect(done.output.summary).toContain("runner lost");
    const after = await service.store.get(run.id);
    expect(after.status).toBe("failed");
    // The workflow's own processes went with it.
    const stepPid = Number(await readFile(path.join(String(run.machine?.details.workDir), "step.pid"), "utf8"));
    expect(stepPid).toBeGreaterThan(0);
    expect(isRunning(stepPid)).toBe(false);
    // The supervisor's lines name the run once each (a logger bound to the run plus an explicit field wrote the key twice).
    const runLines = () => service.logLines.filter((l) => l.includes(`"runId":"${run.id}"`));
    for (const until = Date.now() + 20_000; !runLines().some((l) => l.includes('"msg":"run concluded"')) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(runLines().map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(expect.arrayContaining(["supervising run", "machine ready", "runner lost", "run concluded"]));
    expect(runLines().filter((l) => l.split('"runId":').length !== 2)).toEqual([]);
  });

  it("stops a run on `/dstack stop <run>`: `cancelled`", async () => {
    await comment("/dstack run sleeper");
    const running = await github.waitFor(
      (g) => g.checkRuns.filter((c) => c.name === "dstack: sleeper").find((c) => c.status === "in_progress"),
      { timeoutMs: 20_000 },
    );
    await comment(`/dstack stop ${running.external_id}`);
    const done = await github.waitFor((g) => g.checkRun(running.id)?.status === "completed" && g.checkRun(running.id), { timeoutMs: 30_000 });
    expect(done.conclusion).toBe("cancelled");
    expect(done.output.summary).toContain("stopped by @alice");
  });

  it("adopts a running run after the service restarts, and concludes it", async () => {
    await comment("/dstack run slow");
    const running = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: slow" && c.status === "in_progress"), { timeoutMs: 20_000 });
    const dataDir = service.dataDir;
    const stoppedAt = Date.now();
    await service.close();
    service = await startLifecycleService(dataDir);
    const adopted = await github.waitFor((g) => (g.checkRun(running.id)?.output.text ?? "").includes("step two") && Date.now(), { timeoutMs: 60_000 });
    expect(adopted - stoppedAt).toBeLessThan(60_000);
    const done = await github.waitFor((g) => g.checkRun(running.id)?.status === "completed" && g.checkRun(running.id), { timeoutMs: 60_000 });
    expect(done.conclusion).toBe("success");
    expect(done.output.text).toContain("step two");
  });

  it("ends a run `timed_out` past its maximum duration and releases its machine", async () => {
    // A second service on the same Redis (own prefix) with a 3-second limit instead of 24 h.
    const short = await startTestService({
      redisUrl: redis.url,
      prefix: `${redis.prefix}-short`,
      github,
      overrides: { supervise: { maxRunMinutes: 0.05, publishIntervalMs: 1000, pollMs: 200 } },
    });
    try {
      const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: pr, isPullRequest: true, body: "/dstack run sleeper", user: "alice", commentId: nextComment++ });
      const before = Math.max(0, ...github.checkRuns.map((c) => c.id));
      await signAndSend(short.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
      const done = await completed("sleeper", before);
      expect(done.conclusion).toBe("timed_out");
      expect(done.output.summary).toContain("DSTACK_MAX_RUN_MINUTES");
      const run = await short.store.get(done.external_id);
      expect(run.status).toBe("timed_out");
      const stepPid = Number(await readFile(path.join(String(run.machine?.details.workDir), "step.pid"), "utf8"));
      await github.waitFor(() => !isRunning(stepPid), { timeoutMs: 10_000 });
    } finally {
      await short.stop();
    }
  });

  it("replies with the located error when workflows.yaml is broken", async () => {
    github.createBranch(OWNER, REPO, "broken");
    github.commit(OWNER, REPO, { ".dstack/workflows.yaml": BROKEN }, { branch: "broken" });
    const brokenPr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "broken" });
    await comment("/dstack run broken", "alice", brokenPr);
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, brokenPr).find((c) => c.body.includes("> /dstack run broken")), { timeoutMs: 10_000 });
    expect(reply.body).toMatch(/\.dstack\/workflows\.yaml:\d+:\d+/);
    expect(reply.body).toContain("artifacts");
    github.assertNoViolations();
  });
});
