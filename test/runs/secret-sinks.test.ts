import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand, type RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import { MIN_SECRET_LENGTH } from "../../src/runs/secret-forms.js";
import type { Run } from "../../src/runs/types.js";
import { isTerminal } from "../../src/runs/types.js";
import { runCli, type CliResult } from "../cli/cli-process.js";
import { announceForkPr } from "../helpers/fork-pr-fixture.js";
import type { CheckRun } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeCheckRunRerequestedPayload, makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * Secrets in every form, scanned in every sink (issue #9). Four secrets of different shapes are
 * stored through the CLI and the API of three services sharing one Redis: A (GitHub, S3 artifact
 * store, local backend), B (no GitHub, file artifact store, local backend, `dstack run -f`) and C
 * (EC2 backend under aws-sdk-client-mock). A real workflow prints them in every form the masker
 * knows, in the ways programs print (split writes with a pause, `\r` progress, a 1 MB line, env
 * dumps, artifact file names, exit messages); then every place anything went is scanned for every
 * form of every secret: 0 occurrences. Artifact CONTENTS are the user's own bytes and are not
 * masked (README, "Secrets"): they are the scanner's positive control.
 *
 * The short secret has exactly MIN_SECRET_LENGTH characters (4: shorter values are not masked,
 * see src/runs/secret-forms.ts); one of them is 2 UTF-8 bytes, so that its base64 forms are 6
 * characters, long enough not to occur by chance in the random text the scan reads (tokens,
 * ciphertexts).
 */

const OWNER = "acme";
const REPO = "secret-sinks";
const FULL = `${OWNER}/${REPO}`;

const SECRETS: Record<string, string> = {
  SHORT_PIN: "ö~Z9",
  DEPLOY_KEY: (generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string).trimEnd(),
  QUOTED_PASS: `it's "q" \\n\\back\\ 🔑 ünï ~!*()-${randomBytes(4).toString("hex")}`,
  API_TOKEN: `ghp_${randomBytes(18).toString("base64url")}`,
};
const NAMES = Object.keys(SECRETS);

const LEAK_SH = `# Prints every secret in every form (test/runs/secret-sinks.test.ts).
names="${NAMES.join(" ")}"
echo "secret vars: $(env | grep -c -E '^(${NAMES.join("|")})=')"
for n in $names; do
  v="\${!n}"
  printf 'raw %s: %s\\n' "$n" "$v"
  echo "b64@0 $n: $(printf '%s' "$v" | base64 -w0)"
  echo "b64@1 $n: $(printf 'x%s' "$v" | base64 -w0)"
  echo "b64@2 $n: $(printf 'xy%s' "$v" | base64 -w0)"
  echo "b64@0 unpadded $n: $(printf '%s' "$v" | base64 -w0 | tr -d =)"
  echo "b64@1 unpadded $n: $(printf 'x%s' "$v" | base64 -w0 | tr -d =)"
  echo "b64@2 unpadded $n: $(printf 'xy%s' "$v" | base64 -w0 | tr -d =)"
  echo "b64 inside $n: $(printf 'user:%s@host' "$v" | base64 -w0)"
  echo "b64url $n: $(printf '%s' "$v" | base64 -w0 | tr '+/' '-_' | tr -d =)"
  printf '%s\\n' "$v" | sed "s/^/line $n: /"
  printf '%s\\n' "$v" | sed "s/^/    /"
done
python3 forms.py
node forms.mjs
for n in $names; do
  v="\${!n}"; half=$(( \${#v} / 2 ))
  printf 'split %s: %s' "$n" "\${v:0:$half}"; sleep 0.4; printf '%s <end>\\n' "\${v:$half}"
done
for p in 10 50 100; do printf '\\r[%3d%%] pushing as %s %s' "$p" "$API_TOKEN" "$SHORT_PIN"; sleep 0.05; done; printf '\\n'
python3 bigline.py
env | sort
mkdir -p out
printf '%s' "$DEPLOY_KEY" > out/deploy.pem
env > out/env.txt
echo t > "out/token-$API_TOKEN.txt"
echo p > "out/pin-$SHORT_PIN.txt"
mkdir -p "out/dir-$QUOTED_PASS" && echo q > "out/dir-$QUOTED_PASS/inner.txt"
echo u > "out/b64-$(printf '%s' "$API_TOKEN" | base64 -w0 | tr '+/' '-_' | tr -d =).bin"
echo "leak done"
`;

const FORMS_PY = `import json, os, sys, urllib.parse as u
names = ${JSON.stringify(NAMES)}
for n in names:
    v = os.environ.get(n, "")
    print("url quote", n, u.quote(v, safe=""))
    print("url quote_plus", n, u.quote_plus(v))
    print("json ascii", n, json.dumps(v))
    print("json utf8", n, json.dumps(v, ensure_ascii=False))
    print("json object", json.dumps({"token": v}))
print("env dict", {n: os.environ.get(n, "") for n in names})
sys.stdout.flush()
sys.stderr.write("stderr " + os.environ.get("API_TOKEN", "") + "\\n")
`;

const FORMS_MJS = `for (const n of ${JSON.stringify(NAMES)}) {
  const v = process.env[n] ?? "";
  console.log("url component", n, encodeURIComponent(v));
  console.log("url form", n, new URLSearchParams({ v }).toString());
  console.log("json js", n, JSON.stringify(v));
}
`;

/** One line of about 1 MiB with secrets inside, one across the agent's 64 KiB line pieces. */
const BIGLINE_PY = `import os, sys
v = lambda n: os.environ.get(n, "")
key_line = (v("DEPLOY_KEY").splitlines() or ["", ""])[1] if "\\n" in v("DEPLOY_KEY") else ""
line = "x" * (65536 - 20) + v("SHORT_PIN") + "y" * 400000 + v("QUOTED_PASS") + key_line + "z" * 600000 + v("API_TOKEN") + "w" * 300
sys.stdout.write("bigline " + line + "\\n")
`;

const FAIL_PY = `import os, sys
sys.exit("cannot log in as " + os.environ.get("API_TOKEN", "") + " with " + os.environ.get("QUOTED_PASS", ""))
`;

const WORKFLOWS = `workflows:
  - name: leak
    provider: bash
    commands:
      - bash leak.sh
    artifacts: [out]
  - name: fail
    provider: bash
    commands:
      - python3 fail.py
  - name: env
    provider: bash
    commands:
      - bash env.sh
    artifacts: [out]
`;

/** What a fork's run sees: how many of the secrets it got, and its whole environment as an artifact. */
const ENV_SH = `echo "secret vars: $(env | grep -c -E '^(${NAMES.join("|")})=')"
mkdir -p out && env > out/env.txt
`;

const FILES: Record<string, string> = {
  ".dstack/workflows.yaml": WORKFLOWS,
  "leak.sh": LEAK_SH,
  "forms.py": FORMS_PY,
  "forms.mjs": FORMS_MJS,
  "bigline.py": BIGLINE_PY,
  "fail.py": FAIL_PY,
  "env.sh": ENV_SH,
};

// --- the forms searched for, computed here independently of src/runs/secret-forms.ts

const FORM_NAMES = [
  "raw",
  "base64@0",
  "base64@0 unpadded",
  "base64@1",
  "base64@1 unpadded",
  "base64@2",
  "base64@2 unpadded",
  "url-encoded",
  "json-escaped",
  "python-repr",
] as const;
type FormName = (typeof FORM_NAMES)[number];

interface Needle {
  secret: string;
  form: FormName;
  text: string;
}

/** The secret's base64 at byte offset `offset` of the encoded text: the characters that depend on its bytes only, to its end. */
function base64At(value: string, offset: number): { padded: string; unpadded: string } {
  const bytes = Buffer.from(value, "utf8");
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  const first = Math.ceil((8 * offset) / 6);
  const stableEnd = Math.floor((8 * (offset + bytes.length)) / 6);
  return { padded: encoded.slice(first), unpadded: encoded.slice(first, stableEnd) };
}

/** Percent-encodings as programs write them: JS encodeURIComponent, RFC 3986 (Python `quote`, curl), forms (`+` for space). */
function urlEncodings(value: string): string[] {
  const strict = [...Buffer.from(value, "utf8")]
    .map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`))
    .join("");
  const all = [encodeURIComponent(value), strict, strict.replace(/%20/g, "+"), new URLSearchParams({ v: value }).toString().slice(2)];
  return [...all, ...all.map((s) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()))];
}

/** The inside of Python's own `repr` of each value (what `print(os.environ)` or a dict shows). */
const PYTHON_REPR: Record<string, string> = JSON.parse(
  execFileSync("python3", ["-c", "import json, sys; print(json.dumps({k: repr(v)[1:-1] for k, v in json.load(sys.stdin).items()}))"], { input: JSON.stringify(SECRETS), encoding: "utf8" }),
) as Record<string, string>;

function needlesOf(name: string, value: string): Needle[] {
  const out: Needle[] = [];
  const add = (form: FormName, text: string) => {
    if (text.length >= MIN_SECRET_LENGTH && !out.some((n) => n.form === form && n.text === text)) out.push({ secret: name, form, text });
  };
  const pem = value.includes("\n");
  // A PEM's armour lines (`-----BEGIN PRIVATE KEY-----`) are no secret; its body lines are.
  const lines = pem ? value.split("\n").filter((l) => !l.startsWith("-----")) : [value];
  for (const line of lines) add("raw", line);
  for (const v of [value, `${value}\n`]) {
    for (const offset of [0, 1, 2]) {
      const b = base64At(v, offset);
      add(`base64@${offset}` as FormName, b.padded);
      add(`base64@${offset} unpadded` as FormName, b.unpadded);
    }
  }
  for (const line of lines) for (const u of urlEncodings(line)) if (u !== line) add("url-encoded", u);
  for (const line of lines) {
    const json = JSON.stringify(line).slice(1, -1);
    add("json-escaped", json);
    add("json-escaped", json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  }
  // A multi-line value's repr holds its lines between `\n` escapes: the raw lines find those.
  if (!pem) add("python-repr", PYTHON_REPR[name] ?? value);
  return out.filter((n) => n.form === "raw" || !lines.includes(n.text));
}

const NEEDLES = NAMES.flatMap((n) => needlesOf(n, SECRETS[n] as string));

// --- the scanner

interface Finding {
  sink: string;
  where: string;
  secret: string;
  form: FormName;
  context: string;
}

/** Other renderings of a text a reader would decode: HTML entities, Markdown escapes, JSON strings (whole or one per line). */
function views(text: string): string[] {
  const out = [text];
  if (text.includes("&")) {
    out.push(
      text
        .replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
        .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&"),
    );
  }
  if (text.includes("\\")) out.push(...out.map((t) => t.replace(/\\([!-/:-@[-`{-~])/g, "$1")));
  const strings: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string") strings.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        strings.push(k);
        collect(x);
      }
    }
  };
  const tryJson = (t: string) => {
    const s = t.trim();
    if (!(s.startsWith("{") || s.startsWith("[") || s.startsWith('"'))) return;
    try {
      collect(JSON.parse(s));
    } catch {
      // Not JSON: the text itself is scanned.
    }
  };
  tryJson(text);
  if (text.length < 4 << 20) for (const line of text.split("\n")) if (line.startsWith("{") || line.startsWith("data: {")) tryJson(line.replace(/^data: /, ""));
  if (strings.length > 0) out.push(strings.join("\n"));
  return out;
}

class Scan {
  readonly findings: Finding[] = [];
  readonly sinks = new Map<string, number>();

  /** Counts every occurrence of every needle in `text` (and its decoded views) under `sink`. */
  add(sink: string, where: string, text: string): number {
    let found = 0;
    for (const view of views(text)) {
      for (const n of NEEDLES) {
        for (let at = view.indexOf(n.text); at !== -1; at = view.indexOf(n.text, at + n.text.length)) {
          found++;
          this.findings.push({ sink, where, secret: n.secret, form: n.form, context: view.slice(Math.max(0, at - 40), at + n.text.length + 40) });
        }
      }
    }
    this.sinks.set(sink, (this.sinks.get(sink) ?? 0) + found);
    return found;
  }

  total(): number {
    return [...this.sinks.values()].reduce((a, b) => a + b, 0);
  }

  /** One line per sink, secret and form found: how often, and where first. */
  report(): string {
    const byKind = new Map<string, { count: number; first: Finding }>();
    for (const f of this.findings) {
      const k = `${f.sink} / ${f.secret} / ${f.form}`;
      const e = byKind.get(k);
      if (e === undefined) byKind.set(k, { count: 1, first: f });
      else e.count++;
    }
    return [...byKind].map(([k, e]) => `${k}: ${e.count}, first in ${e.first.where}: ${JSON.stringify(e.first.context)}`).join("\n");
  }
}

// --- the fixture

const ec2Mock = mockClient(EC2Client);
let s3: TestS3Server;
let a: PrFixture;
let b: TestService;
let c: TestService;
let checkout: string;
let configHome: string;
let nextComment = 5000;
const cliResults: Array<{ args: string[]; result: CliResult }> = [];
const runInstances: RunInstancesCommandInput[] = [];
let forkPr: number;
let forkSha: string;

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, stdio: "ignore" });
}

async function cli(service: TestService, args: string[], input?: string): Promise<CliResult> {
  const result = await runCli(args, checkout, {
    env: { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome, NO_COLOR: "1" },
    input,
  });
  cliResults.push({ args, result });
  return result;
}

async function comment(issueNumber: number, body: string, user = "alice"): Promise<number> {
  const commentId = nextComment++;
  a.github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber, body, user, id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber, isPullRequest: true, body, user, commentId });
  const res = await signAndSend(a.service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
  return commentId;
}

function completedCheck(workflow: string, sha: string, after = 0): Promise<CheckRun> {
  return a.github.waitFor((g) => g.checkRuns.find((r) => r.id > after && r.name === `dstack: ${workflow}` && r.head_sha === sha && r.status === "completed"), {
    timeoutMs: 40_000,
  });
}

async function waitForEnd(service: TestService, id: string, timeoutMs = 40_000): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await service.store.get(id);
    if (isTerminal(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} is still ${run.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(service: TestService, pathAndQuery: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${service.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${service.keys.apiToken}`, ...headers } });
  return `${res.status} ${[...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${await res.text()}`;
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(p, ...(await walkFiles(p)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  ec2Mock.reset();
  ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
  ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [] });
  ec2Mock.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
    runInstances.push(input);
    return { Instances: [{ InstanceId: `i-0secret0sinks000${runInstances.length}`, InstanceType: input.InstanceType, State: { Name: "pending" }, Placement: { AvailabilityZone: "us-east-1a" } }] };
  });
  ec2Mock.on(DescribeInstancesCommand).callsFake(() => ({
    Reservations: runInstances.map((input, i) => ({
      Instances: [{ InstanceId: `i-0secret0sinks000${i + 1}`, InstanceType: input.InstanceType, State: { Name: "running" }, Placement: { AvailabilityZone: "us-east-1a" }, LaunchTime: new Date(), Tags: input.TagSpecifications?.[0]?.Tags }],
    })),
  }));
  ec2Mock.on(TerminateInstancesCommand).resolves({});

  s3 = await startS3Server({ buckets: ["artifacts"] });
  a = await startPrFixture({
    name: REPO,
    owner: OWNER,
    files: FILES,
    service: {
      env: {
        DSTACK_ARTIFACTS: "s3://artifacts/sinks",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      },
    },
  });
  [b, c] = await Promise.all([
    startTestService({ redisUrl: a.redis.url, prefix: `${a.redis.prefix}-b` }),
    startTestService({ redisUrl: a.redis.url, prefix: `${a.redis.prefix}-c`, env: { DSTACK_BACKEND: "ec2", AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: "test" } }),
  ]);

  // A fork's pull request: its head commit lives in mallory's fork.
  a.github.createBranch(OWNER, REPO, "from-fork");
  forkSha = a.github.commit(OWNER, REPO, { "fork.txt": "1\n" }, { branch: "from-fork" });
  forkPr = a.github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "from-fork", headRepoFullName: `mallory/${REPO}`, user: "mallory" });

  checkout = await mkdtemp(path.join(os.tmpdir(), "dstack-sinks-repo-"));
  configHome = await mkdtemp(path.join(os.tmpdir(), "dstack-sinks-config-"));
  git(checkout, "init", "-q", "-b", "main");
  git(checkout, "remote", "add", "origin", `git@github.com:${FULL}.git`);
  git(checkout, "config", "user.email", "t@example.com");
  git(checkout, "config", "user.name", "t");
  await mkdir(path.join(checkout, ".dstack"));
  for (const [file, text] of Object.entries(FILES)) await writeFile(path.join(checkout, file), text);
  git(checkout, "add", ".");
  git(checkout, "commit", "-q", "-m", "init");

  // Stored three ways: the CLI reading stdin (A's multi-line key), the CLI with the value as an argument
  // (C's quoted one), the API (the others).
  const putSecret = async (s: TestService, name: string, value: string) => {
    const put = await fetch(`${s.url}/api/v1/repos/${FULL}/secrets/${name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${s.keys.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ value }),
    });
    expect(put.status).toBeLessThan(300);
  };
  const stored = await Promise.all([
    cli(a.service, ["secrets", "add", "DEPLOY_KEY", "--repo", FULL], `${SECRETS.DEPLOY_KEY}\n`),
    cli(c, ["secrets", "add", "--repo", FULL, "--", "QUOTED_PASS", SECRETS.QUOTED_PASS as string]),
  ]);
  expect(stored.map((r) => r.code)).toEqual([0, 0]);
  for (const [name, value] of Object.entries(SECRETS)) {
    if (name !== "DEPLOY_KEY") await putSecret(a.service, name, value);
    await putSecret(b, name, value);
    if (name !== "QUOTED_PASS") await putSecret(c, name, value);
  }
}, 60_000);

afterAll(async () => {
  await b?.stop();
  await c?.stop();
  await a?.stop();
  await s3?.close();
  ec2Mock.restore();
  for (const dir of [checkout, configHome]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

// --- the test

describe("secrets in every form and every sink", () => {
  const scan = new Scan();
  const control = new Scan();
  let leakA: CheckRun;
  let failA: CheckRun;
  let leakB: Run;

  it("runs the workflow that prints every secret in every form: on GitHub (S3 store), from the CLI (file store), and on EC2 (mocked)", async () => {
    const ec2Run = (async () => {
      const submitted = await cli(c, ["run", "leak", "--repo", FULL, "--json"]);
      expect(submitted.code).toBe(0);
      const id = (JSON.parse(submitted.stdout) as Array<{ id: string }>)[0]?.id ?? "";
      const deadline = Date.now() + 20_000;
      while (runInstances.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(runInstances.length).toBeGreaterThan(0);
      const stopped = await cli(c, ["stop", id]);
      const ended = await waitForEnd(c, id);
      expect({ code: stopped.code, stderr: stopped.stderr, status: ended.status }).toEqual({ code: 0, stderr: "", status: "stopped" });
    })();
    const cliRun = cli(b, ["run", "leak", "--repo", FULL, "-f"]);
    await comment(a.pr, "/dstack run leak\n/dstack run fail");
    [leakA, failA] = await Promise.all([completedCheck("leak", a.headSha), completedCheck("fail", a.headSha)]);
    const followed = await cliRun;
    expect({ code: followed.code, stderr: followed.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("done") });
    await ec2Run;

    expect(leakA.conclusion).toBe("success");
    expect(failA.conclusion).toBe("failure");
    const text = leakA.output.text ?? "";
    expect(text).toContain("leak done");
    expect(followed.stdout).toContain("secret vars: 4");
    // What the masker replaced is there, masked: every labelled line of every form.
    for (const name of NAMES) {
      for (const label of ["raw", "b64@0", "b64@1", "b64@2", "b64@0 unpadded", "b64@1 unpadded", "b64@2 unpadded", "b64 inside", "b64url", "split", "url quote", "url quote_plus", "json ascii", "json utf8", "url component", "url form", "json js"]) {
        const line = followed.stdout.split("\n").find((l) => l.startsWith(`${label} ${name}: `) || l.startsWith(`${label} ${name} `));
        expect({ label, name, masked: line?.includes("***") }).toEqual({ label, name, masked: true });
      }
    }
    expect(followed.stdout).toMatch(/bigline x+\*\*\*y+\*\*\*\*\*\*z+\*\*\*w+\n/);
    expect(followed.stdout).toContain("\r[100%] pushing as *** ***\n");
    expect(followed.stdout).toContain("env dict {'SHORT_PIN': '***', 'DEPLOY_KEY': '***', 'QUOTED_PASS': '***', 'API_TOKEN': '***'}\n");
    leakB = (await b.store.list({ repo: FULL, limit: 10 })).find((r) => r.workflow.name === "leak") as Run;
    expect(leakB.status).toBe("done");
  }, 60_000);

  it("finds no secret in any form in any sink", async () => {
    const runsA = await a.service.store.list({ repo: FULL, limit: 20 });
    const runsB = await b.store.list({ repo: FULL, limit: 20 });
    const runsC = await c.store.list({ repo: FULL, limit: 20 });

    // 1. Check runs: every field of every state and update, and annotations.
    for (const check of a.github.checkRuns) {
      scan.add("check runs", `check run ${check.id}`, JSON.stringify(check));
      for (const u of a.github.checkRunUpdates(check.id)) scan.add("check runs", `update of ${check.id}`, JSON.stringify(u));
      scan.add("check runs", `annotations of ${check.id}`, JSON.stringify(a.github.checkRunAnnotations(check.id)));
    }
    // 2. PR comments, every version of each.
    for (const cm of a.github.comments) for (const body of a.github.commentHistory(cm.id)) scan.add("PR comments", `comment ${cm.id}`, body);
    expect(a.github.comments.map((cm) => cm.body).join("\n---\n")).toContain("Artifacts of leak");
    // 3. Everything the service sent GitHub.
    for (const r of a.github.requests) scan.add("GitHub requests", `${r.method} ${r.path}`, `${r.path}?${JSON.stringify(r.query)}\n${JSON.stringify(r.body)}`);

    // 4. Artifact names and object keys: the S3 store (A) and the file store (B).
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: "artifacts" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? "");
    expect(keys.some((k) => k.endsWith("/artifacts/out/env.txt"))).toBe(true);
    expect(keys.filter((k) => k.includes(`${leakA.external_id ?? ""}/artifacts/out/`)).map((k) => k.replace(/^.*\/artifacts\//, "")).sort()).toEqual(
      expect.arrayContaining(["out/deploy.pem", "out/dir-***/inner.txt", "out/env.txt", "out/pin-***.txt", "out/token-***.txt"]),
    );
    for (const k of keys) scan.add("S3 object keys", k, k);
    for (const k of keys.filter((key) => /\/artifacts\/out\/(env\.txt|deploy\.pem)$/.test(key))) {
      const body = await (await s3Client.send(new GetObjectCommand({ Bucket: "artifacts", Key: k }))).Body?.transformToString();
      control.add("artifact contents", k, body ?? "");
    }
    s3Client.destroy();
    const fileStore = path.join(b.dataDir, "artifacts");
    const fileNames = (await walkFiles(fileStore)).map((f) => path.relative(fileStore, f));
    expect(fileNames.some((f) => f.endsWith(path.join("out", "env.txt")))).toBe(true);
    for (const f of fileNames) scan.add("file store names", f, f);
    for (const run of [...runsA, ...runsB]) scan.add("artifact lists", run.id, JSON.stringify(run.artifacts));

    // 5. The services' logs.
    for (const [name, s] of [["A", a.service], ["B", b], ["C", c]] as const) scan.add("service logs", name, s.logLines.join("\n"));

    // 6. CLI output: `dstack runs --json`, `logs`, `artifacts list`, `secrets list` (and every command run so far, below).
    const leakRunA = runsA.find((r) => r.workflow.name === "leak")?.id ?? "";
    const failRun = runsA.find((r) => r.workflow.name === "fail");
    expect(failRun?.status).toBe("failed");
    const [, , , , , , badCli, followFail] = await Promise.all([
      cli(a.service, ["runs", "--json", "--repo", FULL]),
      cli(a.service, ["logs", leakRunA]),
      cli(a.service, ["artifacts", "list", leakRunA]),
      cli(b, ["logs", leakB.id]),
      cli(b, ["artifacts", "list", leakB.id, "--json"]),
      cli(b, ["secrets", "list", "--repo", FULL]),
      cli(a.service, ["secrets", "add", "bad name", "--repo", FULL], `${SECRETS.QUOTED_PASS}\n`),
      cli(a.service, ["logs", failRun?.id ?? "", "-f"]),
    ]);
    // 7. API responses: run JSON, runs list, log range, follow (text and SSE), artifacts, run pages.
    const apiTexts: string[] = [];
    for (const [s, runs] of [[a.service, runsA], [b, runsB], [c, runsC]] as const) {
      apiTexts.push(await api(s, `/api/v1/runs?repo=${FULL}`), await api(s, `/api/v1/repos/${FULL}/secrets`));
      for (const run of runs) {
        apiTexts.push(
          ...(await Promise.all([
            api(s, `/api/v1/runs/${run.id}`),
            api(s, `/api/v1/runs/${run.id}/logs`),
            api(s, `/api/v1/runs/${run.id}/logs?follow=true`),
            api(s, `/api/v1/runs/${run.id}/logs?follow=true`, { accept: "text/event-stream" }),
            api(s, `/api/v1/runs/${run.id}/artifacts`),
            api(s, `/runs/${run.id}`),
          ])),
        );
      }
    }
    for (const [i, t] of apiTexts.entries()) scan.add("API responses", `response ${i}`, t);
    expect(apiTexts.some((t) => t.includes("event: log"))).toBe(true);
    expect(apiTexts.map((t) => t.slice(0, 3)).filter((status) => status !== "200")).toEqual([]);

    // 8. Error messages: run reasons, refusals of bad requests that carry a secret, failing CLI commands.
    for (const run of [...runsA, ...runsB, ...runsC]) scan.add("error messages", `reason of ${run.id}`, run.reason ?? "");
    const badName = await fetch(`${a.service.url}/api/v1/repos/${FULL}/secrets/not-a-name`, {
      method: "PUT",
      headers: { authorization: `Bearer ${a.service.keys.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ value: SECRETS.API_TOKEN }),
    });
    expect(badName.status).toBe(400);
    scan.add("error messages", "PUT secret with a bad name", await badName.text());
    expect(badCli?.code).not.toBe(0);
    expect(followFail?.code).not.toBe(0);
    expect(followFail?.stdout).toContain("cannot log in as ***");
    for (const { args, result } of cliResults.filter((r) => r.result.code !== 0)) scan.add("error messages", args.join(" "), result.stdout + result.stderr);
    for (const { args, result } of cliResults) scan.add("CLI output", args.join(" "), result.stdout + result.stderr);

    // 9. Redis: every key of every type (run hashes, log streams, BullMQ job data, dedupe keys).
    const redis = a.service.redis;
    const redisKeys = await redis.keys("*");
    let bullJobs = 0;
    for (const key of redisKeys) {
      const type = await redis.type(key);
      let dump = "";
      if (type === "string") dump = (await redis.get(key)) ?? "";
      else if (type === "hash") {
        const hash = await redis.hgetall(key);
        if (hash.data !== undefined && hash.opts !== undefined) bullJobs++;
        dump = JSON.stringify(hash);
      }
      else if (type === "list") dump = JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === "set") dump = JSON.stringify(await redis.smembers(key));
      else if (type === "zset") dump = JSON.stringify(await redis.zrange(key, "0", "-1", "WITHSCORES"));
      else if (type === "stream") dump = (await redis.xrangeBuffer(key, "-", "+")).map(([id, fields]) => `${id.toString()} ${fields.map((f) => f.toString("utf8")).join(" ")}`).join("\n");
      scan.add("Redis", `${type} ${key}`, `${key}\n${dump}`);
    }

    expect(bullJobs).toBeGreaterThan(0);

    // 10. EC2: the RunInstances request (user data decoded, tags).
    expect(runInstances.length).toBeGreaterThan(0);
    for (const input of runInstances) {
      const userData = Buffer.from(input.UserData ?? "", "base64").toString("utf8");
      expect(userData).toContain("DSTACK_AGENT_TOKEN=");
      scan.add("EC2 user data and tags", "RunInstances", `${JSON.stringify({ ...input, UserData: undefined })}\n${userData}`);
    }

    // 11. The services' data dirs: every file name, and every file's contents but artifact objects (the user's bytes).
    // The runner's checkout of each run is gone (the agent or the local backend's release removed it).
    const checkouts = async () => (await Promise.all([a.service, b].map((s) => walkFiles(path.join(s.dataDir, "runs"))))).flat().filter((f) => f.endsWith(`${path.sep}work${path.sep}repo`));
    for (let waited = 0; (await checkouts()).length > 0 && waited < 15_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
    expect(await checkouts()).toEqual([]);
    for (const s of [a.service, b, c]) {
      for (const f of await walkFiles(s.dataDir)) {
        const rel = path.relative(s.dataDir, f);
        scan.add("data dirs", rel, rel);
        if (rel.includes(`${path.sep}artifacts${path.sep}`)) continue; // the file store's objects: runs/<id>/artifacts/<path>
        if ((await stat(f)).isFile()) scan.add("data dirs", rel, await readFile(f, "utf8"));
      }
    }

    const sinks = scan.sinks.size;
    process.stdout.write(`secrets: occurrences in ${sinks} sinks x ${FORM_NAMES.length} forms: ${scan.total()}\n`);
    expect({ total: scan.total(), findings: scan.report() }).toEqual({ total: 0, findings: "" });
    expect(sinks).toBeGreaterThanOrEqual(11);
    // The positive control: artifact contents are not masked, and the scanner finds the secrets there.
    for (const name of NAMES) expect({ name, found: control.findings.some((f) => f.secret === name && f.form === "raw") }).toEqual({ name, found: true });
  }, 60_000);

  it("gives a fork PR's run no secrets though a writer started it, pinned to the head commit the writer saw", async () => {
    const checksBefore = Math.max(0, ...a.github.checkRuns.map((r) => r.id));
    await announceForkPr(a.service, a.redis.prefix, { owner: OWNER, repo: REPO, number: forkPr, headSha: forkSha, headRepoFullName: `mallory/${REPO}` });
    await comment(forkPr, "/dstack run env");
    const first = await completedCheck("env", forkSha, checksBefore);
    expect(first.conclusion).toBe("success");
    const run = await a.service.store.get(first.external_id ?? "");
    expect({ commit: run.commit, fork: run.trigger.fork }).toEqual({ commit: forkSha, fork: true });
    expect(await api(a.service, `/api/v1/runs/${run.id}/logs`)).toContain("secret vars: 0");
    // The workflow's whole environment, as it saw it (artifact contents are not masked).
    const envDump = await (await fetch(`${a.service.url}/api/v1/runs/${run.id}/artifacts/file?path=out/env.txt`, { headers: { authorization: `Bearer ${a.service.keys.apiToken}` } })).text();
    expect(envDump).toContain("DSTACK_RUN_ID=");
    const forkScan = new Scan();
    forkScan.add("fork run env", run.id, envDump);
    expect({ occurrences: forkScan.total(), names: NAMES.filter((n) => envDump.includes(`${n}=`)) }).toEqual({ occurrences: 0, names: [] });

    // The fork pushes again: the approval was for the commit the writer saw, not for this one.
    const pushed = a.github.commit(OWNER, REPO, { "fork.txt": "2\n" }, { branch: "from-fork" });
    a.github.pushToPullRequest(OWNER, REPO, forkPr, pushed);
    await announceForkPr(a.service, a.redis.prefix, { owner: OWNER, repo: REPO, number: forkPr, headSha: pushed, headRepoFullName: `mallory/${REPO}`, action: "synchronize" });
    // GitHub's "Re-run" of the approved run runs the approved commit again, still without secrets.
    const rerunPayload = makeCheckRunRerequestedPayload({
      owner: OWNER,
      repo: REPO,
      apiUrl: a.github.url,
      webUrl: a.github.webUrl,
      checkRunId: first.id,
      headSha: first.head_sha,
      name: first.name,
      externalId: first.external_id ?? "",
      appId: a.github.appId,
      conclusion: first.conclusion,
      sender: "alice",
    });
    expect((await signAndSend(a.service.webhookUrl, { event: "check_run", payload: rerunPayload, secret: WEBHOOK_SECRET })).status).toBe(202);
    const again = await completedCheck("env", forkSha, first.id);
    const rerun = await a.service.store.get(again.external_id ?? "");
    expect({ commit: rerun.commit, fork: rerun.trigger.fork, log: (await api(a.service, `/api/v1/runs/${rerun.id}/logs`)).includes("secret vars: 0") }).toEqual({ commit: forkSha, fork: true, log: true });
    // The writer's comment, delivered again (GitHub redelivers on request), does not approve the new head.
    const redelivered = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: forkPr, isPullRequest: true, body: "/dstack run env", user: "alice", commentId: nextComment - 1 });
    expect((await signAndSend(a.service.webhookUrl, { event: "issue_comment", payload: redelivered, secret: WEBHOOK_SECRET })).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    const atPushed = (await a.service.store.list({ repo: FULL, limit: 50 })).filter((r) => r.commit === pushed);
    expect({ runs: atPushed.length, checks: a.github.checkRuns.filter((r) => r.head_sha === pushed && r.name.startsWith("dstack: env")).length }).toEqual({ runs: 0, checks: 0 });
    // A new request runs the new head, again without secrets.
    await comment(forkPr, "/dstack run env");
    const second = await completedCheck("env", pushed);
    const newRun = await a.service.store.get(second.external_id ?? "");
    expect({ commit: newRun.commit, fork: newRun.trigger.fork, log: (await api(a.service, `/api/v1/runs/${newRun.id}/logs`)).includes("secret vars: 0") }).toEqual({ commit: pushed, fork: true, log: true });
  }, 40_000);
});
