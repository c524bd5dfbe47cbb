import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { loadConfig } from "../../src/config.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { TEST_PRIVATE_KEY } from "../helpers/test-keys.js";
import { makeIssueCommentPayload } from "../helpers/webhooks.js";
import { random } from "../workflow/yaml-mutator.js";

/**
 * Webhook signatures (DESIGN.md §5): a delivery whose `X-Hub-Signature-256` is wrong, missing,
 * truncated, only sha1, or whose body changed after signing is answered 400 or 401 and leaves no
 * trace (no Redis key, no job, no GitHub request); and GitHub mode never starts without a secret.
 */

const OWNER = "acme";
const REPO = "signatures";
const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;

beforeAll(async () => {
  redis = await startRedis("webhook-signatures");
  github = await startGitHubDouble();
  github.addRepo({ owner: OWNER, name: REPO, files: { ".dstack/workflows.yaml": "workflows:\n  - name: hello\n    provider: bash\n    commands: [echo hi]\n" } });
  github.setPermission(OWNER, REPO, "alice", "write");
  github.addIssue({ owner: OWNER, repo: REPO, number: 1, title: "t" });
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
});

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
});

const hmac = (algorithm: "sha256" | "sha1", secret: string, body: string) => `${algorithm}=${createHmac(algorithm, secret).update(body).digest("hex")}`;

async function deliver(body: string, signatures: Record<string, string>, deliveryId: string): Promise<number> {
  const res = await fetch(service.webhookUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "issue_comment", "x-github-delivery": deliveryId, ...signatures },
    body,
  });
  await res.text();
  return res.status;
}

/** Keys in this file's own Redis (delivery ids, queue jobs, runs). */
async function keys(): Promise<string[]> {
  const client = new Redis(redis.url);
  try {
    return await client.keys("*");
  } finally {
    client.disconnect();
  }
}

describe("webhook signatures", () => {
  it("answers every bad signature 400 or 401 with no Redis write, no job and no GitHub request; the good one then works", async () => {
    const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: 1, isPullRequest: false, body: "/dstack run hello", user: "alice", commentId: 77, apiUrl: github.url, webUrl: github.webUrl });
    const body = JSON.stringify(payload);
    const good = hmac("sha256", WEBHOOK_SECRET, body);
    const cases: Array<[string, string, Record<string, string>]> = [
      ["wrong secret", body, { "x-hub-signature-256": hmac("sha256", "not-the-secret", body) }],
      ["Probot's default secret", body, { "x-hub-signature-256": hmac("sha256", "development", body) }],
      ["missing", body, {}],
      ["empty", body, { "x-hub-signature-256": "" }],
      ["prefix only", body, { "x-hub-signature-256": "sha256=" }],
      ["truncated to 32 hex digits", body, { "x-hub-signature-256": good.slice(0, 7 + 32) }],
      ["one digit short", body, { "x-hub-signature-256": good.slice(0, -1) }],
      ["one digit more", body, { "x-hub-signature-256": `${good}0` }],
      ["sha1 only (X-Hub-Signature)", body, { "x-hub-signature": hmac("sha1", WEBHOOK_SECRET, body) }],
      ["sha1 value in the sha256 header", body, { "x-hub-signature-256": hmac("sha1", WEBHOOK_SECRET, body) }],
      ["body re-serialised with indentation after signing", JSON.stringify(payload, null, 2), { "x-hub-signature-256": good }],
      ["body with a trailing newline added after signing", `${body}\n`, { "x-hub-signature-256": good }],
      ["body edited after signing", body.replace("/dstack run hello", "/dstack run hellp"), { "x-hub-signature-256": good }],
    ];
    // Seeded mutations of the good signature: flipped digits, upper case, cut, other prefixes.
    const next = random(9);
    const hex = "0123456789abcdefABCDEF=-: ";
    for (let i = 0; i < 150; i++) {
      const chars = [...good];
      const at = 7 + Math.floor(next() * (chars.length - 7));
      const kind = i % 3;
      if (kind === 0) {
        const other = hex.replace(chars[at] as string, "");
        chars[at] = other[Math.floor(next() * other.length)] as string;
      }
      else if (kind === 1) chars.splice(at, 1 + Math.floor(next() * 8));
      else chars.splice(0, 7, ["sha512=", "SHA256=", "sha256:", "sha256 ", "=", ""][i % 6] as string);
      cases.push([`mutation ${i}`, body, { "x-hub-signature-256": chars.join("") }]);
    }

    const requestsBefore = github.requests.length;
    const keysBefore = new Set(await keys());
    const statuses = new Map<number, number>();
    for (const [name, text, headers] of cases) {
      const status = await deliver(text, headers, `bad-${name}`);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      expect({ name, refused: status === 400 || status === 401 }).toEqual({ name, refused: true });
    }
    await new Promise((r) => setTimeout(r, 1000));
    // The workers' own housekeeping keys (BullMQ's queue metadata and stalled-job check, the data
    // marker) appear on their schedule; a delivery would add `delivery:<id>` and `bull:events:*` jobs.
    const housekeeping = /:(meta|stalled-check|data-marker)$/;
    const keysAdded = (await keys()).filter((k) => !keysBefore.has(k) && !housekeeping.test(k));
    const githubRequests = github.requests.length - requestsBefore;
    process.stdout.write(
      `bad webhook signatures: ${cases.length} deliveries, ${[...statuses].map(([s, n]) => `${n}x ${s}`).join(", ")}; Redis keys added ${keysAdded.length}, GitHub requests ${githubRequests}\n`,
    );
    expect(keysAdded).toEqual([]);
    expect(githubRequests).toBe(0);

    // The same delivery correctly signed is accepted and does its work: the checks above could see it.
    expect(await deliver(body, { "x-hub-signature-256": good }, "good")).toBe(202);
    await github.waitFor((g) => g.reactions.length > 0 || g.comments.length > 0, { timeoutMs: 15_000, description: "the good delivery's reaction or reply" });
    expect(github.requests.length).toBeGreaterThan(requestsBefore);
  });
});

describe("GitHub mode without a webhook secret", () => {
  const partial = { APP_ID: "1234", PRIVATE_KEY: TEST_PRIVATE_KEY };

  it("loadConfig refuses APP_ID and a key without WEBHOOK_SECRET (also blank), and Probot's placeholder secret", () => {
    for (const secret of [undefined, "", "   "]) {
      const env = secret === undefined ? partial : { ...partial, WEBHOOK_SECRET: secret };
      expect(() => loadConfig(env)).toThrow(/missing: WEBHOOK_SECRET/);
    }
    expect(() => loadConfig({ APP_ID: "1234", WEBHOOK_SECRET: "s3cret-s3cret" })).toThrow(/missing: PRIVATE_KEY or PRIVATE_KEY_PATH/);
    expect(() => loadConfig({ ...partial, WEBHOOK_SECRET: "development" })).toThrow(/WEBHOOK_SECRET is "development"/);
    expect(loadConfig({ ...partial, WEBHOOK_SECRET: "s3cret-s3cret" }).github?.webhookSecret).toBe("s3cret-s3cret");
  });

  it("the compiled service stops at start-up with the line naming WEBHOOK_SECRET, and never listens", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "dstack-no-secret-"));
    try {
      const started = Date.now();
      const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [MAIN], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "", HOME: dir, DSTACK_DATA_DIR: path.join(dir, "data"), PORT: "1", ...partial },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (c: Buffer) => (output += c.toString()));
        child.stderr.on("data", (c: Buffer) => (output += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, output }));
      });
      expect(result.code).not.toBe(0);
      const line = result.output.split("\n").find((l) => l.includes("WEBHOOK_SECRET"));
      expect(line).toContain("missing: WEBHOOK_SECRET");
      expect(result.output).not.toMatch(/listening|GitHub is off/i);
      process.stdout.write(`service without WEBHOOK_SECRET: exit ${String(result.code)} in ${Date.now() - started} ms: ${line?.trim()}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
