import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * A GitHub login can be renamed and then registered by someone else; the numeric user id stays with
 * the account. alice (a writer on acme/web) signs in, makes a CLI token and comments; then she renames
 * herself `alice-renamed` and a stranger registers `alice`, within the 60 s the service caches
 * permissions. The stranger must inherit nothing: not her cached permission (pages, API, comments),
 * not her CLI tokens; her token must not act with the stranger's permissions; her approvals name her id.
 */

const CSRF = { "x-dstack-csrf": "1" };

let redis: TestRedis;
let double: GitHubDouble;
let service: TestService;
let issue: number;
let nextComment = 1;

beforeAll(async () => {
  redis = await startRedis("github-identity-rename");
  double = await startGitHubDouble();
  double.addRepo({ owner: "acme", name: "web", private: true, files: { ".dstack/workflows.yaml": "workflows:\n  - name: env\n    provider: bash\n    commands: [\"true\"]\n" } });
  double.addRepo({ owner: "acme", name: "other", private: true });
  double.setPermission("acme", "web", "alice", "write");
  issue = double.addIssue({ owner: "acme", repo: "web", title: "commands" });
  service = await startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    github: double,
    env: { GITHUB_CLIENT_ID: double.clientId, GITHUB_CLIENT_SECRET: double.clientSecret },
  });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await double?.close();
  await redis?.stop();
});

/** Signs `login` in through the OAuth flow against the double; returns the session cookie `dstack_session=g....`. */
async function signIn(login: string): Promise<string> {
  double.signInAs(login);
  const start = await fetch(`${service.url}/login/github`, { redirect: "manual" });
  const stateCookie = (start.headers.getSetCookie().find((c) => c.startsWith("dstack_oauth=")) ?? "").split(";")[0] ?? "";
  const atGitHub = await fetch(start.headers.get("location") ?? "", { redirect: "manual" });
  const back = await fetch(atGitHub.headers.get("location") ?? "", { headers: { cookie: stateCookie }, redirect: "manual" });
  expect(back.status).toBe(200);
  return (back.headers.getSetCookie().find((c) => c.startsWith("dstack_session=")) ?? "").split(";")[0] ?? "";
}

function call(method: string, path: string, auth: { cookie?: string; token?: string }): Promise<Response> {
  const headers: Record<string, string> = auth.token === undefined ? { cookie: auth.cookie ?? "", ...CSRF } : { authorization: `Bearer ${auth.token}` };
  const body = method === "POST" ? { body: "{}", headers: { accept: "application/json", "content-type": "application/json", ...headers } } : { headers: { accept: "application/json", ...headers } };
  return fetch(`${service.url}${path}`, { method, ...body, redirect: "manual" });
}

/** `login` (account `userId`) comments `/dstack stop nope` on the issue; resolves to the service's reply. */
async function commentStop(login: string, userId: number): Promise<string> {
  const commentId = nextComment++;
  const body = "/dstack stop nope";
  const stored = double.addIssueComment({ owner: "acme", repo: "web", issueNumber: issue, body, user: login, id: commentId });
  const payload = makeIssueCommentPayload({ owner: "acme", repo: "web", issueNumber: issue, isPullRequest: false, body, user: login, userId, commentId, createdAt: stored.created_at });
  const before = double.commentsOn("acme", "web", issue).length;
  expect((await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET })).status).toBe(202);
  const replies = await double.waitFor((g) => (g.commentsOn("acme", "web", issue).length > before ? g.commentsOn("acme", "web", issue).slice(before) : undefined), { timeoutMs: 10_000 });
  return replies.map((c) => c.body).join("\n");
}

describe("a renamed login, registered again by someone else, inherits nothing", () => {
  const aliceId = () => double.userId("alice-renamed");
  let aliceCookie: string;
  let aliceToken: string;
  let aliceTokenId: string;

  it("before the rename: alice reads acme/web, makes a CLI token and her comments act as a writer's", async () => {
    aliceCookie = await signIn("alice");
    expect((await call("GET", "/api/v1/runs?repo=acme/web", { cookie: aliceCookie })).status).toBe(200);
    const made = (await (await call("POST", "/api/v1/user/tokens", { cookie: aliceCookie })).json()) as { id: string; token: string };
    ({ id: aliceTokenId, token: aliceToken } = made);
    expect((await call("GET", "/api/v1/runs?repo=acme/web", { token: aliceToken })).status).toBe(200);
    expect(await commentStop("alice", double.userId("alice"))).toContain("there is no run `nope`");
  }, 20_000);

  it("after it, the new `alice` gets her own permission everywhere, not alice's cached one", async () => {
    const before = double.userId("alice");
    double.renameUser("alice", "alice-renamed");
    double.setPermission("acme", "other", "alice", "write"); // the stranger's own repository
    expect({ moved: aliceId() === before, fresh: double.userId("alice") !== before }).toEqual({ moved: true, fresh: true });

    const stranger = await signIn("alice");
    expect((await call("GET", "/api/v1/runs?repo=acme/web", { cookie: stranger })).status).toBe(404);
    expect((await call("GET", "/api/v1/runs?repo=acme/other", { cookie: stranger })).status).toBe(200);
    const reply = await commentStop("alice", double.userId("alice"));
    expect(reply).toContain("needs write, maintain or admin permission");
    expect(reply).not.toContain("there is no run");

    // alice herself keeps her access under her new login, her session and her comments included.
    expect((await call("GET", "/api/v1/runs?repo=acme/web", { cookie: aliceCookie })).status).toBe(200);
    expect((await call("GET", "/api/v1/runs?repo=acme/other", { cookie: aliceCookie })).status).toBe(404);
    expect(await commentStop("alice-renamed", aliceId())).toContain("there is no run `nope`");
  }, 30_000);

  it("alice's CLI token is neither listed to nor revocable by the new `alice`, and never acts with the stranger's permissions", async () => {
    const stranger = await signIn("alice");
    const listed = (await (await call("GET", "/api/v1/user/tokens", { cookie: stranger })).json()) as { tokens: Array<{ id: string }> };
    expect(listed.tokens).toEqual([]);
    expect((await call("DELETE", `/api/v1/user/tokens/${aliceTokenId}`, { cookie: stranger })).status).toBe(404);
    const own = (await (await call("GET", "/api/v1/user/tokens", { cookie: aliceCookie })).json()) as { tokens: Array<{ id: string }> };
    expect(own.tokens.map((t) => t.id)).toEqual([aliceTokenId]);
    // The token still names the login `alice`, which is the stranger's now: GitHub's answer about it is not alice's.
    expect((await call("GET", "/api/v1/runs?repo=acme/other", { token: aliceToken })).status).toBe(404);
  }, 20_000);

  it("a token made before ids were kept (by login only) is refused once its implied 90 days are over, not run as the stranger", async () => {
    // The records as the service wrote them before ids and expiry were kept: nothing tells whose `alice` it was.
    const token = "dstack_u_alice-before-ids-were-kept-0123456789abcdefghijklmn";
    const hash = createHash("sha256").update(token).digest("hex");
    const createdAt = Date.now() - 91 * 24 * 3600_000;
    await service.redis.set(`${redis.prefix}:cli-token:${hash}`, JSON.stringify({ id: "a11ce0ld0001", login: "alice", createdAt }));
    await service.redis.hset(`${redis.prefix}:cli-tokens:alice`, "a11ce0ld0001", JSON.stringify({ hash, createdAt }));
    // The stranger `alice` may write to acme/other; the old token must not.
    const res = await call("GET", "/api/v1/runs?repo=acme/other", { token });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/^this personal CLI token \(a11ce0ld0001\) expired on /);
  }, 20_000);

  it("an approval records the approver's id, which the new `alice` does not have", async () => {
    const run = await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "env", log: "", status: "submitted" });
    await service.store.update(run.id, { approval: { state: "waiting", message: "the daily budget is spent" } });
    const stranger = await signIn("alice");
    expect((await call("POST", `/api/v1/repos/acme/web/runs/${run.id}/approve`, { cookie: stranger })).status).toBe(404);
    expect((await call("POST", `/api/v1/repos/acme/web/runs/${run.id}/approve`, { cookie: aliceCookie })).status).toBe(202);
    const approval = (await service.store.get(run.id)).approval;
    expect(approval).toMatchObject({ state: "approved", by: "alice", byId: aliceId() });
    expect(approval?.state === "approved" ? approval.byId : undefined).not.toBe(double.userId("alice"));
  }, 20_000);
});
