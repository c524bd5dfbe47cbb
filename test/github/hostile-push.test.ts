import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makePushPayload, signAndSend } from "../helpers/webhooks.js";
import { MAX_ANNOTATIONS } from "../../src/github/publish-validation.js";

/**
 * Hostile workflow files of `test/fixtures/fuzz/yaml/` pushed through the GitHub double to the whole
 * service: the `dstack: workflows.yaml` check run fails with an annotation at the faulty line, the
 * worker that read them stays alive, and the next good push validates and runs.
 */

const OWNER = "acme";
const REPO = "hostile-push";
const ZERO = "0".repeat(40);
const corpus = (file: string) => readFileSync(fileURLToPath(new URL(`../fixtures/fuzz/yaml/${file}`, import.meta.url)), "utf8");
const GOOD = "workflows:\n  - name: build\n    provider: bash\n    on: push\n    commands: [echo built]\n";

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;

beforeAll(async () => {
  redis = await startRedis("hostile-push");
  github = await startGitHubDouble();
  github.addRepo({ owner: OWNER, name: REPO, files: { ".dstack/workflows.yaml": GOOD } });
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
});

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
});

async function push(files: Record<string, string>): Promise<string> {
  const sha = github.commit(OWNER, REPO, files);
  const payload = makePushPayload({ owner: OWNER, repo: REPO, apiUrl: github.url, webUrl: github.webUrl, ref: "refs/heads/main", before: ZERO, after: sha });
  const res = await signAndSend(service.webhookUrl, { event: "push", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
  return sha;
}

const validation = (sha: string) =>
  github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: workflows.yaml" && c.head_sha === sha && c.status === "completed"), {
    timeoutMs: 30_000,
    description: `dstack: workflows.yaml at ${sha.slice(0, 7)}`,
  });

describe("a hostile .dstack/workflows.yaml pushed to the service", () => {
  it("fails the validation check with an annotation at the line, keeps the worker alive, and a good push then runs", async () => {
    const cases = [
      { file: "deep-flow-nesting.yaml", line: 1, words: "nested more than 100 levels" },
      { file: "alias-bomb.yaml", line: 9, words: "billion laughs" },
      { file: "js-function-tag.yaml", line: 3, words: "`!!js/function` is not allowed" },
    ];
    for (const c of cases) {
      const started = Date.now();
      const sha = await push({ ".dstack/workflows.yaml": corpus(c.file) });
      const check = await validation(sha);
      expect(check.conclusion).toBe("failure");
      const annotations = github.checkRunAnnotations(check.id);
      expect(annotations.some((a) => a.start_line === c.line && a.annotation_level === "failure" && a.message.includes(c.words))).toBe(true);
      process.stdout.write(`push of ${c.file}: check failed with the annotation at line ${c.line} in ${Date.now() - started} ms\n`);
    }
    const sha = await push({ ".dstack/workflows.yaml": GOOD });
    expect((await validation(sha)).conclusion).toBe("success");
    const build = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: build" && c.head_sha === sha && c.status === "completed"), {
      timeoutMs: 30_000,
    });
    expect(build.conclusion).toBe("success");
    github.assertNoViolations();
  });
});

describe("a .dstack/ file over the size limit pushed to the service", () => {
  it("is refused at 1:1 by its size, unread, also past the 1 MB GitHub sends no content for", async () => {
    const contentFetches = (sha: string) =>
      github.requests.filter((r) => r.method === "GET" && /\/contents\/\.dstack(%2F|\/)workflows\.yaml$/.test(r.path) && r.query.ref === sha).length;
    const padding = (bytes: number) => `${GOOD}${"# padding\n".repeat(Math.ceil(bytes / 10))}`;
    for (const [name, bytes] of [["300 KiB", 300 * 1024], ["2 MiB", 2 * 1024 * 1024]] as const) {
      const sha = await push({ ".dstack/workflows.yaml": padding(bytes) });
      const check = await validation(sha);
      expect(check.conclusion).toBe("failure");
      expect(github.checkRunAnnotations(check.id)).toEqual([
        expect.objectContaining({ path: ".dstack/workflows.yaml", start_line: 1, annotation_level: "failure", message: expect.stringMatching(/^this file is \d+ KiB; files of \.dstack\/ may be at most 256 KiB/) }),
      ]);
      // Its content was never fetched: the listing's size was enough.
      expect({ name, fetched: contentFetches(sha) }).toEqual({ name, fetched: 0 });
    }
    // The same count sees the fetch of a file of ordinary size.
    const sha = await push({ ".dstack/workflows.yaml": GOOD });
    expect((await validation(sha)).conclusion).toBe("success");
    expect(contentFetches(sha)).toBeGreaterThan(0);
    github.assertNoViolations();
  });
});

describe("a .dstack/workflows.yaml with thousands of problems", () => {
  it("annotates at most MAX_ANNOTATIONS of them, errors first, and says in the summary how many were left out", async () => {
    // 600 workflows, each with an unknown field (an error); the first also has a warning (an old key name).
    const workflows = Array.from({ length: 600 }, (_, i) => `  - name: w${i}\n    provider: bash\n    commands: [echo]\n    colour: red\n`);
    workflows.unshift("  - name: old\n    provider: python\n    script: x.py\n");
    const sha = await push({ ".dstack/workflows.yaml": `workflows:\n${workflows.join("")}` });
    const check = await validation(sha);
    expect(check.conclusion).toBe("failure");
    // The first 50 come with the creation, the rest in PATCHes after it.
    await github.waitFor((g) => g.checkRunAnnotations(check.id).length >= MAX_ANNOTATIONS || undefined, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    const annotations = github.checkRunAnnotations(check.id);
    expect(annotations).toHaveLength(MAX_ANNOTATIONS);
    expect(annotations.every((a) => a.annotation_level === "failure")).toBe(true);
    const carrying = github.requests.filter(
      (r) =>
        JSON.stringify(r.body ?? null).includes('"annotations"') &&
        ((r.method === "POST" && (r.body as { head_sha?: string }).head_sha === sha) || (r.method === "PATCH" && r.path.endsWith(`/check-runs/${check.id}`))),
    );
    expect(carrying).toHaveLength(MAX_ANNOTATIONS / 50);
    expect(check.output?.summary).toMatch(/and \d+ more, not annotated: run `dstack validate`/);
    process.stdout.write(`600 faulty workflows: ${annotations.length} annotations in ${MAX_ANNOTATIONS / 50} requests\n`);
  });
});
