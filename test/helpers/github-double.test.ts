import { createSign } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Octokit } from "@octokit/rest";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";
import { x as extractTar } from "tar";
import { secondaryRateLimit, startGitHubDouble, type GitHubDouble } from "./github-double.js";
import { TEST_PRIVATE_KEY } from "./test-keys.js";
import {
  loadWebhookExample,
  makeCheckRunRequestedActionPayload,
  makeCheckRunRerequestedPayload,
  makeCreatePayload,
  makeIssueCommentPayload,
  makePushPayload,
  signAndSend,
} from "./webhooks.js";

const OWNER = "acme";
const REPO = "demo";
const LONG_PATH = `${"deeply/".repeat(14)}nested-file-with-a-long-name.txt`; // over 100 bytes: needs pax

/** Octokit's request-log plugin prints every 4xx; the tests provoke many on purpose. */
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** An app JWT as @octokit/auth-app makes it (RS256, iss = app id). */
function appJwt(appId = 1): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode({ iat: now - 60, exp: now + 540, iss: String(appId) })}`;
  return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(TEST_PRIVATE_KEY).toString("base64url")}`;
}

function status(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number"
    ? error.status
    : undefined;
}

async function expectStatus(promise: Promise<unknown>, expected: number): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(status(caught)).toBe(expected);
}

let double: GitHubDouble;
let headSha: string;

/** An installation-token Octokit, obtained as an app would: JWT -> access_tokens. */
async function installationOctokit(): Promise<Octokit> {
  const app = new Octokit({ baseUrl: double.url, log: quiet, auth: appJwt() });
  const { data } = await app.rest.apps.createInstallationAccessToken({ installation_id: double.installationId });
  return new Octokit({ baseUrl: double.url, log: quiet, auth: data.token });
}

beforeEach(async () => {
  double = await startGitHubDouble();
  headSha = double.addRepo({
    owner: OWNER,
    name: REPO,
    files: {
      ".dstack/workflows.yaml": "workflows:\n  - name: train\n",
      "src/train.py": "print('hi')\n",
      "data/blob.bin": new Uint8Array([0, 1, 2, 250, 255]),
      [LONG_PATH]: "long\n",
    },
  }).sha;
});

afterEach(async () => {
  await double.close();
  // Every JSON answer of the double matched GitHub's response schema for its status.
  expect(double.selfCheckProblems).toEqual([]);
});

describe("the GitHub double", () => {
  test("loads GitHub's OpenAPI description once per process and serves under /api/v3", () => {
    expect(double.url).toBe(`http://${double.host}/api/v3`);
    expect(double.openApiLoadMs).toBeGreaterThan(0);
    console.info(`OpenAPI description read and indexed in ${double.openApiLoadMs} ms`);
  });

  test("answers valid requests from @octokit/rest without violations", async () => {
    const octokit = await installationOctokit();
    const { data: repo } = await octokit.rest.repos.get({ owner: OWNER, repo: REPO });
    expect(repo.full_name).toBe(`${OWNER}/${REPO}`);
    expect(repo.default_branch).toBe("main");
    const { data: created } = await octokit.rest.checks.create({
      owner: OWNER,
      repo: REPO,
      name: "dstack / train",
      head_sha: headSha,
      status: "in_progress",
      output: { title: "Running", summary: "Started" },
    });
    expect(created.status).toBe("in_progress");
    await octokit.rest.checks.update({
      owner: OWNER,
      repo: REPO,
      check_run_id: created.id,
      conclusion: "success",
      output: {
        title: "Done",
        summary: "All good",
        annotations: [{ path: "src/train.py", start_line: 1, end_line: 1, annotation_level: "notice", message: "ok" }],
      },
    });
    const { data: listed } = await octokit.rest.checks.listForRef({ owner: OWNER, repo: REPO, ref: "main" });
    expect(listed.total_count).toBe(1);
    expect(listed.check_runs[0]).toMatchObject({ status: "completed", conclusion: "success" });
    expect(listed.check_runs[0]?.output.annotations_count).toBe(1);
    expect(double.checkRunUpdates(created.id).map((u) => u.method)).toEqual(["POST", "PATCH"]);
    expect(double.checkRunUpdates(created.id)[0]?.state.status).toBe("in_progress");
    expect(double.checkRunAnnotations(created.id)).toHaveLength(1);
    expect(double.requests.filter((r) => r.route === "/repos/{owner}/{repo}/check-runs/{check_run_id}")).toHaveLength(1);
    expect(double.requests.at(-1)?.auth).toBe("installation:1");
    double.assertNoViolations();
  });

  test("refuses a check run with a status outside the enum, naming the JSON pointer", async () => {
    const octokit = await installationOctokit();
    const bogus = { owner: OWNER, repo: REPO, name: "x", head_sha: headSha, status: "bogus" };
    // Cast: the typed client would refuse this at compile time, which is the point of the test.
    await expectStatus(octokit.rest.checks.create(bogus as unknown as Parameters<typeof octokit.rest.checks.create>[0]), 422);
    expect(double.violations).toHaveLength(1);
    expect(double.violations[0]).toMatch(/^POST \/repos\/acme\/demo\/check-runs: \[checks\/create\] body:\/status: "bogus" is not one of/);
    expect(double.checkRuns).toHaveLength(0);
    expect(() => double.assertNoViolations()).toThrow(/body:\/status/);
  });

  test("refuses a check run output without a title, and a completed status without a conclusion", async () => {
    const octokit = await installationOctokit();
    const request = (body: Record<string, unknown>): Promise<unknown> =>
      octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: REPO, name: "x", head_sha: headSha, ...body });
    await expectStatus(request({ output: { summary: "no title" } }), 422);
    await expectStatus(request({ status: "completed" }), 422);
    await expectStatus(request({ head_sha: "f".repeat(40) }), 422);
    expect(double.violations[0]).toContain("body:/output/title: is required");
    expect(double.violations[1]).toContain("conclusion is required");
    expect(double.violations[2]).toContain("No commit found for SHA");
  });

  test("reports unknown and unhandled routes as 404 violations", async () => {
    const octokit = await installationOctokit();
    await expectStatus(octokit.request("GET /repos/{owner}/{repo}/no-such-thing", { owner: OWNER, repo: REPO }), 404);
    await expectStatus(octokit.request("PUT /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: REPO }), 404);
    await expectStatus(octokit.rest.issues.listLabelsForRepo({ owner: OWNER, repo: REPO }), 404);
    expect(double.violations).toEqual([
      expect.stringContaining("unknown route: not in GitHub's OpenAPI description"),
      expect.stringContaining("GitHub serves /repos/acme/demo/check-runs only for POST"),
      expect.stringContaining("unhandled route: the double does not serve GET /repos/{owner}/{repo}/labels"),
    ]);
  });

  test("serves a tarball with one top-level directory that extracts to the committed files", async () => {
    const octokit = await installationOctokit();
    const second = double.commit(OWNER, REPO, { "src/train.py": "print('v2')\n", "data/blob.bin": null }, { message: "v2" });
    const { data } = await octokit.rest.repos.downloadTarballArchive({ owner: OWNER, repo: REPO, ref: "main" });
    expect(data).toBeInstanceOf(ArrayBuffer);
    const dir = await mkdtemp(join(tmpdir(), "double-tarball-"));
    try {
      await writeFile(join(dir, "archive.tar.gz"), Buffer.from(data as ArrayBuffer));
      const entries: string[] = [];
      await extractTar({ file: join(dir, "archive.tar.gz"), cwd: dir, onReadEntry: (entry) => void entries.push(entry.path) });
      const top = `${OWNER}-${REPO}-${second.slice(0, 7)}`;
      expect(new Set(entries.map((path) => path.split("/")[0]))).toEqual(new Set([top]));
      expect(await readFile(join(dir, top, "src/train.py"), "utf8")).toBe("print('v2')\n");
      expect(await readFile(join(dir, top, ".dstack/workflows.yaml"), "utf8")).toContain("name: train");
      expect(await readFile(join(dir, top, LONG_PATH), "utf8")).toBe("long\n");
      expect(entries).not.toContain(`${top}/data/blob.bin`);

      // Plain fetch follows the 302 to codeload too; an older sha still gives the older tree.
      const response = await fetch(`${double.url}/repos/${OWNER}/${REPO}/tarball/${headSha}`, {
        headers: { authorization: `token ${(double.installationTokens[0]?.token ?? "")}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/x-gzip");
      await writeFile(join(dir, "old.tar.gz"), Buffer.from(await response.arrayBuffer()));
      await extractTar({ file: join(dir, "old.tar.gz"), cwd: dir });
      const oldTop = `${OWNER}-${REPO}-${headSha.slice(0, 7)}`;
      expect([...(await readFile(join(dir, oldTop, "data/blob.bin")))]).toEqual([0, 1, 2, 250, 255]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    double.assertNoViolations();
  });

  test("round-trips files and directories through the contents API", async () => {
    const octokit = await installationOctokit();
    const { data: file } = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: ".dstack/workflows.yaml" });
    if (Array.isArray(file) || file.type !== "file") throw new Error("expected a file");
    expect(Buffer.from(file.content, "base64").toString("utf8")).toBe("workflows:\n  - name: train\n");
    expect(file.sha).toMatch(/^[0-9a-f]{40}$/);

    const { data: root } = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: "" });
    if (!Array.isArray(root)) throw new Error("expected a directory");
    expect(root.map((entry) => `${entry.type}:${entry.path}`)).toEqual(["dir:.dstack", "dir:data", "dir:deeply", "dir:src"]);

    double.commit(OWNER, REPO, { ".dstack/workflows.yaml": "workflows: []\n" });
    const { data: raw } = await octokit.rest.repos.getContent({
      owner: OWNER,
      repo: REPO,
      path: ".dstack/workflows.yaml",
      mediaType: { format: "raw" },
    });
    expect(raw).toBe("workflows: []\n");
    const { data: old } = await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: ".dstack/workflows.yaml", ref: headSha });
    if (Array.isArray(old) || old.type !== "file") throw new Error("expected a file");
    expect(Buffer.from(old.content, "base64").toString("utf8")).toContain("name: train");

    // Unencoded slashes (plain fetch) reach the same route.
    const viaFetch = await fetch(`${double.url}/repos/${OWNER}/${REPO}/contents/src/train.py?ref=${headSha}`);
    expect(viaFetch.status).toBe(200);

    let missing: unknown;
    try {
      await octokit.rest.repos.getContent({ owner: OWNER, repo: REPO, path: "nope.txt" });
    } catch (error) {
      missing = error;
    }
    expect(status(missing)).toBe(404);
    expect((missing as { response?: { data?: unknown } }).response?.data).toMatchObject({ message: "Not Found" });
    double.assertNoViolations();
  });

  test("reports permissions the way GitHub does (maintain -> write, triage -> read)", async () => {
    const octokit = await installationOctokit();
    double.setPermission(OWNER, REPO, "alice", "maintain");
    double.setPermission(OWNER, REPO, "bob", "triage");
    double.setPermission(OWNER, REPO, "carol", "admin");
    const get = async (username: string, repo = REPO): Promise<[string, string]> => {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: OWNER, repo, username });
      return [data.permission, data.role_name];
    };
    expect(await get("alice")).toEqual(["write", "maintain"]);
    expect(await get("bob")).toEqual(["read", "triage"]);
    expect(await get("carol")).toEqual(["admin", "admin"]);
    expect(await get("stranger")).toEqual(["read", "read"]); // public repository: everyone reads
    double.addRepo({ owner: OWNER, name: "secret", private: true });
    expect(await get("stranger", "secret")).toEqual(["none", "none"]);
    double.assertNoViolations();
  });

  test("serves pull requests, forks included, and links check runs to same-repository pulls", async () => {
    const octokit = await installationOctokit();
    const featureSha = double.commit(OWNER, REPO, { "src/feature.py": "x = 1\n" }, { branch: "feature/x" });
    const forkSha = double.commit(OWNER, REPO, { "evil.py": "rm -rf /\n" }, { detached: true });
    const own = double.addPullRequest({ owner: OWNER, repo: REPO, headRef: "feature/x" });
    const fork = double.addPullRequest({ owner: OWNER, repo: REPO, headRef: "main", headSha: forkSha, headRepoFullName: "mallory/demo" });
    const { data: pull } = await octokit.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: own });
    expect(pull.head).toMatchObject({ ref: "feature/x", sha: featureSha });
    expect(pull.head.repo?.fork).toBe(false);
    const { data: forked } = await octokit.rest.pulls.get({ owner: OWNER, repo: REPO, pull_number: fork });
    expect(forked.head.repo).toMatchObject({ full_name: "mallory/demo", fork: true });
    expect(double.resolveRef(OWNER, REPO, `refs/pull/${fork}/head`)).toBe(forkSha);
    const { data: branch } = await octokit.rest.repos.getBranch({ owner: OWNER, repo: REPO, branch: "feature/x" });
    expect(branch.commit.sha).toBe(featureSha);
    const { data: commit } = await octokit.rest.repos.getCommit({ owner: OWNER, repo: REPO, ref: featureSha.slice(0, 7) });
    expect(commit.files?.map((f) => `${f.status}:${f.filename}`)).toEqual(["added:src/feature.py"]);
    const { data: ref } = await octokit.rest.git.getRef({ owner: OWNER, repo: REPO, ref: "heads/feature/x" });
    expect(ref.object.sha).toBe(featureSha);
    const { data: run } = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: featureSha });
    expect(run.pull_requests.map((p) => p.number)).toEqual([own]);
    double.assertNoViolations();
  });

  test("keeps comments, their edit history and reactions; paginates like GitHub", async () => {
    const octokit = await installationOctokit();
    const issue = double.addIssue({ owner: OWNER, repo: REPO });
    const userComment = double.addIssueComment({ owner: OWNER, repo: REPO, issueNumber: issue, body: "/dstack run train", user: "alice" });
    const { data: reaction } = await octokit.rest.reactions.createForIssueComment({
      owner: OWNER,
      repo: REPO,
      comment_id: userComment.id,
      content: "eyes",
    });
    expect(reaction.content).toBe("eyes");
    const { data: reply } = await octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: issue, body: "Planning" });
    expect(reply.user?.login).toBe("dstack-app[bot]");
    expect(reply.performed_via_github_app?.slug).toBe("dstack-app");
    await octokit.rest.issues.updateComment({ owner: OWNER, repo: REPO, comment_id: reply.id, body: "Planned" });
    // An app may not edit someone else's comment.
    await expectStatus(octokit.rest.issues.updateComment({ owner: OWNER, repo: REPO, comment_id: userComment.id, body: "x" }), 403);
    expect(double.violations).toEqual([expect.stringContaining("editing a comment the app did not write")]);
    double.violations.length = 0;
    for (let i = 0; i < 4; i += 1) {
      await octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: issue, body: `more ${i}` });
    }
    const all = await octokit.paginate(octokit.rest.issues.listComments, { owner: OWNER, repo: REPO, issue_number: issue, per_page: 2 });
    expect(all).toHaveLength(6);
    expect(double.commentHistory(reply.id)).toEqual(["Planning", "Planned"]);
    expect(double.reactions).toEqual([expect.objectContaining({ commentId: userComment.id, content: "eyes", user: "dstack-app[bot]" })]);
    expect(double.commentsOn(OWNER, REPO, issue).find((c) => c.id === userComment.id)?.reactions["eyes"]).toBe(1);
    await expectStatus(
      octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: issue, body: "x".repeat(65537) }),
      422,
    );
    expect(double.violations).toEqual([expect.stringContaining("body is too long")]);
  });

  test("waitFor resolves when the state appears and names what it waited for on timeout", async () => {
    const octokit = await installationOctokit();
    const issue = double.addIssue({ owner: OWNER, repo: REPO });
    setTimeout(() => {
      void octokit.rest.issues.createComment({ owner: OWNER, repo: REPO, issue_number: issue, body: "late" });
    }, 50);
    const comment = await double.waitFor((d) => d.comments.find((c) => c.body === "late"), { timeoutMs: 2000 });
    expect(comment.body).toBe("late");
    await expect(double.waitFor((d) => d.checkRuns.length > 0, { timeoutMs: 50, description: "a check run" })).rejects.toThrow(
      /waitFor timed out after 50 ms waiting for: a check run[\s\S]*Last requests/,
    );
  });

  test("fails matching requests on demand (secondary rate limit with retry-after)", async () => {
    const octokit = await installationOctokit();
    double.failNext("POST /repos/{owner}/{repo}/check-runs", secondaryRateLimit(7));
    let first: unknown;
    try {
      await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: headSha });
    } catch (error) {
      first = error;
    }
    expect(status(first)).toBe(403);
    expect((first as { response?: { headers?: Record<string, string> } }).response?.headers?.["retry-after"]).toBe("7");
    await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: headSha });
    expect(double.checkRuns).toHaveLength(1);
    double.assertNoViolations();
  });

  test("checks credentials as GitHub does", async () => {
    const octokit = await installationOctokit();
    const pat = new Octokit({ baseUrl: double.url, log: quiet, auth: "x" });
    await expectStatus(pat.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: headSha }), 403);
    const app = new Octokit({ baseUrl: double.url, log: quiet, auth: appJwt() });
    await expectStatus(app.rest.repos.get({ owner: OWNER, repo: REPO }), 403);
    await expectStatus(octokit.rest.apps.getRepoInstallation({ owner: OWNER, repo: REPO }), 401);
    double.expireTokens();
    await expectStatus(octokit.rest.repos.get({ owner: OWNER, repo: REPO }), 401);
    expect(double.violations).toHaveLength(4);
    const narrow = new Octokit({ baseUrl: double.url, log: quiet, auth: appJwt() });
    const { data } = await narrow.rest.apps.createInstallationAccessToken({ installation_id: 1, permissions: { contents: "read" } });
    const readOnly = new Octokit({ baseUrl: double.url, log: quiet, auth: data.token });
    await expectStatus(readOnly.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: headSha }), 403);
    expect(double.violations.at(-1)).toContain("needs checks: write");
  });

  test("validates hundreds of requests quickly", async () => {
    const octokit = await installationOctokit();
    const { data: run } = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "t", head_sha: headSha });
    const started = performance.now();
    for (let i = 0; i < 300; i += 1) {
      await octokit.rest.checks.update({ owner: OWNER, repo: REPO, check_run_id: run.id, output: { title: "t", summary: `line ${i}` } });
    }
    const perRequestMs = (performance.now() - started) / 300;
    console.info(`check run PATCH round trip through the double: ${perRequestMs.toFixed(2)} ms`);
    // About 3 ms on an idle 2-CPU machine and 6 ms at load 11; the bound only catches a double that
    // re-reads or re-compiles the spec per request (hundreds of ms), with room for a loaded CI machine.
    expect(perRequestMs).toBeLessThan(50);
    expect(double.checkRunUpdates(run.id)).toHaveLength(301);
    double.assertNoViolations();
  });

  test("works with Probot 14: app JWT, installation lookup, installation token, API calls", async () => {
    const probot = new Probot({
      appId: 1,
      privateKey: TEST_PRIVATE_KEY,
      baseUrl: double.url,
      log: pino({ level: "silent" }),
      // The function form: Probot 14.3 ignores the object form (see shared/TECH-NOTES.md).
      Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
        ...options,
        retry: { enabled: false },
        throttle: { enabled: false },
      })),
    });
    const appOctokit = await probot.auth();
    const { data: installation } = await appOctokit.rest.apps.getRepoInstallation({ owner: OWNER, repo: REPO });
    expect(installation.id).toBe(1);
    expect(installation.account).toMatchObject({ login: OWNER });
    const octokit = await probot.auth(installation.id);
    const { data: run } = await octokit.rest.checks.create({ owner: OWNER, repo: REPO, name: "probot", head_sha: headSha });
    expect(run.app?.slug).toBe("dstack-app");
    expect(double.installationTokens).toHaveLength(1);
    expect(double.appJwts.length).toBeGreaterThan(0);
    expect(double.requests.map((r) => `${r.auth} ${r.method} ${r.route ?? r.path}`)).toEqual([
      "app GET /repos/{owner}/{repo}/installation",
      "app POST /app/installations/{installation_id}/access_tokens",
      "installation:1 POST /repos/{owner}/{repo}/check-runs",
    ]);
    double.assertNoViolations();
  });
});

describe("webhook helpers", () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
  });

  test("load real payloads as deep copies", () => {
    const a = loadWebhookExample("issue_comment", "created");
    const b = loadWebhookExample("issue_comment", "created");
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(a["installation"]).toBeDefined(); // examples an app would receive are preferred
    expect(() => loadWebhookExample("no_such_event")).toThrow(/no webhook examples/);
  });

  test("build payloads Probot accepts, delivered with a valid signature", async () => {
    const secret = "test-secret";
    const probot = new Probot({ appId: 1, privateKey: TEST_PRIVATE_KEY, baseUrl: double.url, secret, log: pino({ level: "silent" }) });
    const received: Array<{ name: string; id: string; payload: unknown }> = [];
    probot.onAny((event) => {
      received.push({ name: event.name, id: event.id, payload: event.payload });
    });
    const middleware = await probot.getNodeMiddleware({ path: "/api/github/webhooks" });
    server = createServer((req, res) => {
      void middleware(req, res);
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;

    const comment = makeIssueCommentPayload({
      owner: OWNER,
      repo: REPO,
      installationId: 1,
      issueNumber: 7,
      isPullRequest: true,
      body: "/dstack run train",
      user: "alice",
      commentId: 4242,
      apiUrl: double.url,
      webUrl: double.webUrl,
    });
    expect(comment.repository.full_name).toBe("acme/demo");
    expect(comment.repository.owner.login).toBe("acme");
    expect(comment.issue.pull_request?.url).toBe(`${double.url}/repos/acme/demo/pulls/7`);
    expect(comment.comment).toMatchObject({ id: 4242, body: "/dstack run train", user: { login: "alice", type: "User" } });
    expect(comment.sender.login).toBe("alice");
    expect(comment.installation?.id).toBe(1);
    const onIssue = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber: 3, isPullRequest: false, body: "hi", user: "bot[bot]", userType: "Bot", commentId: 1 });
    expect(onIssue.issue.pull_request).toBeUndefined();
    expect(onIssue.comment.user?.type).toBe("Bot");

    const sent = await signAndSend(url, { event: "issue_comment", payload: comment, secret, deliveryId: "delivery-1" });
    expect(sent.status).toBe(200);
    const push = makePushPayload({ owner: OWNER, repo: REPO, ref: "refs/heads/main", before: "0".repeat(40), after: headSha });
    expect(push.head_commit?.id).toBe(headSha);
    expect(push.created).toBe(true);
    expect((await signAndSend(url, { event: "push", payload: push, secret })).status).toBe(200);
    const tag = makeCreatePayload({ owner: OWNER, repo: REPO, ref: "v1.0" });
    expect(tag).toMatchObject({ ref: "v1.0", ref_type: "tag" });
    expect((await signAndSend(url, { event: "create", payload: tag, secret })).status).toBe(200);
    const click = makeCheckRunRequestedActionPayload({
      owner: OWNER,
      repo: REPO,
      checkRunId: 400_001,
      headSha,
      name: "dstack / train",
      identifier: "rerun",
      sender: "alice",
    });
    expect(click.requested_action?.identifier).toBe("rerun");
    const rerun = makeCheckRunRerequestedPayload({ owner: OWNER, repo: REPO, checkRunId: 400_002, headSha, name: "t", sender: "bob" });
    expect(rerun).toMatchObject({ action: "rerequested", check_run: { id: 400_002, head_sha: headSha }, sender: { login: "bob" } });
    expect(click.check_run.app?.id).toBe(1);
    expect((await signAndSend(url, { event: "check_run", payload: click, secret })).status).toBe(200);
    expect((await signAndSend(url, { event: "push", payload: push, secret: "wrong" })).status).toBe(400);

    expect(received.map((event) => event.name)).toEqual(["issue_comment", "push", "create", "check_run"]);
    expect(received[0]?.id).toBe("delivery-1");
  });
});
