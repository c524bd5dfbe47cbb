import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { LogStore } from "../../src/runs/log-store.js";
import { SecretStore } from "../../src/runs/secret-store.js";
import { announceForkPr } from "../helpers/fork-pr-fixture.js";
import { startGitHubDouble, type CheckRun, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * Secrets end to end: stored in the service's SecretStore, handed to a PR's run as env vars by
 * the real agent, masked in every form the workflow prints them (also split across two writes
 * with a pause between), and withheld from a fork PR's run.
 */

const OWNER = "acme";
const REPO = "secrets";
/** Characters that URL-encoding and JSON escaping change, plus a random part no test text contains by chance. */
const TOKEN = `hf_S3cr3t/"q"+&=%é-${randomBytes(9).toString("hex")}`;
const PEM = `-----BEGIN TEST KEY-----\nMIIB${randomBytes(18).toString("base64")}\nQ${randomBytes(18).toString("hex")}\n-----END TEST KEY-----\n`;

const LEAK = [
  'echo "raw: $HF_TOKEN"',
  "printf '%s' \"$HF_TOKEN\" | base64 -w0; echo",
  "printf 'u%s' \"$HF_TOKEN\" | base64 -w0; echo",
  "printf 'us%s' \"$HF_TOKEN\" | base64 -w0; echo",
  "printf 'user:%s!' \"$HF_TOKEN\" | base64 -w0 | tr -d '='; echo",
  `python3 -c 'import os, urllib.parse; print("url:", urllib.parse.quote(os.environ.get("HF_TOKEN", ""), safe=""))'`,
  `python3 -c 'import os, json; print("json:", json.dumps({"token": os.environ.get("HF_TOKEN", "")}))'`,
  "printf 'split: %s' \"${HF_TOKEN:0:9}\"; sleep 1; printf '%s <end>\\n' \"${HF_TOKEN:9}\"",
  'echo "$PEM_KEY"',
  "echo \"secret vars: $(env | grep -c -E '^(HF_TOKEN|PEM_KEY)=')\"",
  'echo "leak done"',
];

/** Commands as YAML double-quoted scalars (JSON strings are valid ones): the shell text has `: ` and quotes. */
const WORKFLOWS = `workflows:
  - name: leak
    provider: bash
    commands:
${LEAK.map((c) => `      - ${JSON.stringify(c)}`).join("\n")}
`;

/** Every text that would give the token or the key away, as printed and as HTML or JSON would carry it. */
function giveaways(): string[] {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const forms = [
    TOKEN,
    b64(TOKEN).slice(0, 32),
    b64(`u${TOKEN}`).slice(4, 36),
    b64(`us${TOKEN}`).slice(4, 36),
    b64(`user:${TOKEN}!`).slice(8, 40),
    encodeURIComponent(TOKEN),
    JSON.stringify(TOKEN).slice(1, -1).replace("é", "\\u00e9"),
    TOKEN.slice(9),
    ...PEM.trim()
      .split("\n")
      .filter((l) => !l.startsWith("-----")),
  ];
  const html = forms.map((f) => f.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"));
  const json = forms.map((f) => JSON.stringify(f).slice(1, -1));
  return [...new Set([...forms, ...html, ...json])];
}

function expectNoSecret(where: string, text: string): void {
  for (const g of giveaways()) {
    if (text.includes(g)) throw new Error(`${where} contains ${JSON.stringify(g)}:\n${text}`);
  }
}

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let logs: LogStore;
let pr: number;
let forkPr: number;
let nextComment = 2000;

async function runOn(issueNumber: number, headSha: string): Promise<CheckRun> {
  const commentId = nextComment++;
  const body = "/dstack run leak";
  github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber, body, user: "alice", id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber, isPullRequest: true, body, user: "alice", commentId });
  const res = await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
  return github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: leak" && c.head_sha === headSha && c.status === "completed"), { timeoutMs: 40_000 });
}

let headSha: string;
let forkSha: string;

beforeAll(async () => {
  redis = await startRedis("secret-delivery");
  github = await startGitHubDouble();
  github.addRepo({ owner: OWNER, name: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  github.createBranch(OWNER, REPO, "feature");
  headSha = github.commit(OWNER, REPO, { "train.txt": "data\n" }, { branch: "feature" });
  pr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature" });
  github.createBranch(OWNER, REPO, "from-fork");
  forkSha = github.commit(OWNER, REPO, { "fork.txt": "f\n" }, { branch: "from-fork" });
  forkPr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "from-fork", headRepoFullName: "mallory/secrets", user: "mallory" });
  github.setPermission(OWNER, REPO, "alice", "write");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
  logs = new LogStore({ redis: service.redis, prefix: redis.prefix, dir: path.join(service.dataDir, "logs") });
  // The repository's name as GitHub capitalises it elsewhere: secrets are per repository, any case.
  await service.secretStore.put("Acme/Secrets", "HF_TOKEN", TOKEN);
  await service.secretStore.put(`${OWNER}/${REPO}`, "PEM_KEY", PEM);
});

afterAll(async () => {
  await logs?.close();
  await service?.stop();
  await github?.close();
  await redis?.stop();
});

describe("secrets in runs", () => {
  it("gives a PR's run its repository's secrets and masks every form it prints, everywhere the log goes", async () => {
    const done = await runOn(pr, headSha);
    expect(done.conclusion).toBe("success");
    const text = done.output.text ?? "";
    expect(text).toContain("secret vars: 2");
    expect(text).toContain("raw: ***");
    expect(text).toContain("split: *** <end>");
    expect(text).toContain("url: ***");
    expect(text).toContain('json: {"token": "***"}');
    expect(text).toContain("leak done");
    expectNoSecret("the check run's text", text);
    expectNoSecret("the check run's summary", done.output.summary ?? "");

    const runId = done.external_id ?? "";
    const stored = (await logs.tail(runId, 1 << 20)).data.toString();
    expect(stored).toContain("leak done");
    expect(stored.match(/\*\*\*/g)?.length ?? 0).toBeGreaterThanOrEqual(9);
    expectNoSecret("the stored log", stored);

    const page = await fetch(done.details_url ?? "", { headers: { authorization: `Bearer ${service.keys.apiToken}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("leak done");
    expectNoSecret("the run page", html);

    expect(service.logLines.length).toBeGreaterThan(0);
    expectNoSecret("the service's log", service.logLines.join("\n"));
  });

  it("gives a fork PR's run no secrets, even when a writer starts it, and says so", async () => {
    await announceForkPr(service, redis.prefix, { owner: OWNER, repo: REPO, number: forkPr, headSha: forkSha, headRepoFullName: "mallory/secrets" });
    const done = await runOn(forkPr, forkSha);
    expect(done.conclusion).toBe("success");
    expect(done.output.text).toContain("secret vars: 0");
    expect(done.output.text).toContain("raw: \n");
    expect(done.output.summary).toContain("This run comes from a fork: it received no secrets.");
    expect((await service.store.get(done.external_id ?? "")).trigger.fork).toBe(true);
  });

  it("fails a run whose secrets were stored under another DSTACK_SECRETS_KEY, saying so, instead of running without them", async () => {
    const otherKey = new SecretStore({ redis: service.redis, prefix: redis.prefix, key: randomBytes(32) });
    await otherKey.put(`${OWNER}/${REPO}`, "HF_TOKEN", TOKEN);
    try {
      github.createBranch(OWNER, REPO, "rekeyed");
      const sha = github.commit(OWNER, REPO, { "rekeyed.txt": "r\n" }, { branch: "rekeyed" });
      const rekeyedPr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "rekeyed" });
      const done = await runOn(rekeyedPr, sha);
      expect(done.conclusion).toBe("failure");
      expect(done.output.summary).toContain("DSTACK_SECRETS_KEY");
      expect(done.output.text ?? "").not.toContain("leak done");
    } finally {
      await service.secretStore.put(`${OWNER}/${REPO}`, "HF_TOKEN", TOKEN);
    }
  });
});
