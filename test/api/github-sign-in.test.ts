import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Run } from "../../src/runs/types.js";
import { runCli } from "../cli/cli-process.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * "Sign in with GitHub" over HTTP against the GitHub double: the OAuth web flow (state bound to the
 * browser, PKCE, code exchange, session cookie, logout, expiry), what each GitHub permission allows
 * on the pages and through /api/v1, and personal CLI tokens used by the real CLI.
 */

let redis: TestRedis;
let double: GitHubDouble;
let service: TestService;
let webRun: Run;
let secretRun: Run;
let configDir: string;

const CSRF = { "x-dstack-csrf": "1" };

function oauthEnv(d: GitHubDouble): Record<string, string> {
  return { GITHUB_CLIENT_ID: d.clientId, GITHUB_CLIENT_SECRET: d.clientSecret };
}

/** `name=value` of the Set-Cookie header named `name`, and its attributes. */
function setCookie(res: Response, name: string): { pair: string; attributes: string } | undefined {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (line === undefined) return undefined;
  const [pair = "", ...rest] = line.split(";");
  return { pair, attributes: rest.map((a) => a.trim()).join("; ") };
}

/** The flow up to GitHub's redirect back: the state cookie, and the callback URL GitHub sends the browser to. */
async function startSignIn(base: string, d: GitHubDouble, login: string | undefined): Promise<{ stateCookie: string; callback: string; authorize: URL }> {
  d.signInAs(login);
  const start = await fetch(`${base}/login/github?next=${encodeURIComponent("/?repo=acme/web")}`, { redirect: "manual" });
  expect(start.status).toBe(303);
  const authorize = new URL(start.headers.get("location") ?? "");
  const state = setCookie(start, "dstack_oauth");
  expect(state?.attributes).toMatch(/HttpOnly/);
  const atGitHub = await fetch(authorize, { redirect: "manual" });
  expect(atGitHub.status).toBe(302);
  return { stateCookie: state?.pair ?? "", callback: atGitHub.headers.get("location") ?? "", authorize };
}

/** Signs `login` in through the whole flow and returns the session cookie (`dstack_session=g....`). */
async function signIn(login: string, base = service.url, d = double): Promise<string> {
  const { stateCookie, callback } = await startSignIn(base, d, login);
  const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
  expect(back.status).toBe(200);
  return setCookie(back, "dstack_session")?.pair ?? "";
}

function get(p: string, cookie: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${service.url}${p}`, { headers: { cookie, accept: "application/json", ...headers }, redirect: "manual" });
}

function send(method: string, p: string, cookie: string, body?: unknown): Promise<Response> {
  return fetch(`${service.url}${p}`, {
    method,
    headers: { cookie, ...CSRF, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
  });
}

beforeAll(async () => {
  redis = await startRedis("github-sign-in");
  double = await startGitHubDouble();
  double.addRepo({ owner: "acme", name: "web", private: true });
  double.addRepo({ owner: "acme", name: "secret", private: true });
  double.setPermission("acme", "web", "rita", "read");
  double.setPermission("acme", "web", "walt", "write");
  double.setPermission("acme", "web", "ada", "admin");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github: double, env: oauthEnv(double) });
  webRun = await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "train", log: "web log\n" });
  secretRun = await seedRun(service, redis.prefix, { repo: "acme/secret", workflow: "hidden", log: "secret log\n" });
  configDir = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-config-"));
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await double?.close();
  await redis?.stop();
  if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
});

describe("Sign in with GitHub", () => {
  it("offers the button next to the API-token form", async () => {
    const html = await (await fetch(`${service.url}/login?next=/runs/x`)).text();
    expect(html).toContain(`href="/login/github?next&#x3D;%2Fruns%2Fx"`);
    expect(html).toContain("Sign in with GitHub");
    expect(html).toContain(`name="token"`);
  });

  it("sends the browser to GitHub with a random state bound to a SameSite=Lax cookie and a PKCE S256 challenge", async () => {
    const { stateCookie, authorize } = await startSignIn(service.url, double, "rita");
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${double.webUrl}/login/oauth/authorize`);
    expect(authorize.searchParams.get("client_id")).toBe(double.clientId);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${service.config.publicUrl}/login/github/callback`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stateCookie).toBe(`dstack_oauth=${authorize.searchParams.get("state") ?? "missing"}`);
    const again = await fetch(`${service.url}/login/github`, { redirect: "manual" });
    expect(setCookie(again, "dstack_oauth")?.attributes).toMatch(/Max-Age=600; Path=\/login\/github; HttpOnly; SameSite=Lax/);
    expect(new URL(again.headers.get("location") ?? "").searchParams.get("state")).not.toBe(authorize.searchParams.get("state"));
  });

  it("exchanges the code with the PKCE verifier, asks GET /user, and sets an HttpOnly SameSite=Strict session cookie", async () => {
    const { stateCookie, callback, authorize } = await startSignIn(service.url, double, "rita");
    const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
    expect(back.status).toBe(200);
    const html = await back.text();
    // Moves on with a same-site navigation (SameSite=Strict cookies are not sent on GitHub's redirect chain).
    expect(html).toContain(`<meta http-equiv="refresh" content="0;url=/?repo&#x3D;acme/web">`);
    expect(html).toContain("Signed in as rita");
    const session = setCookie(back, "dstack_session");
    expect(session?.pair).toMatch(/^dstack_session=g\.[A-Za-z0-9_-]{43}$/);
    expect(session?.attributes).toMatch(/Max-Age=28\d\d\d; Path=\/; HttpOnly; SameSite=Strict/);
    expect(setCookie(back, "dstack_oauth")?.attributes).toMatch(/Max-Age=0/);

    const exchange = double.requests.filter((r) => r.path === "/login/oauth/access_token").at(-1);
    const body = exchange?.body as Record<string, string>;
    expect(body.client_secret).toBe(double.clientSecret);
    expect(createHash("sha256").update(body.code_verifier ?? "").digest("base64url")).toBe(authorize.searchParams.get("code_challenge"));
    expect(double.requests.some((r) => r.method === "GET" && r.path === "/user" && r.auth === "user:rita")).toBe(true);

    // The user's GitHub token stays on the server: not in the cookie, the page, Redis in clear, or the log.
    const token = double.userTokens.at(-1)?.token ?? "missing";
    expect(session?.pair).not.toContain(token);
    expect(html).not.toContain(token);
    const keys = await service.redis.keys(`${redis.prefix}:session:*`);
    const stored = await Promise.all(keys.map((k) => service.redis.get(k)));
    expect(stored.join("\n")).toContain(`"login":"rita"`);
    expect(stored.join("\n")).not.toContain(token);
    expect(service.logLines.join("\n")).not.toContain(token);
    expect(service.logLines.some((l) => l.includes("signed in with GitHub") && l.includes('"login":"rita"'))).toBe(true);

    const runs = await get("/api/v1/runs", session?.pair ?? "");
    expect(runs.status).toBe(200);
  });

  it("refuses a callback whose state is not the one this browser started, and a state used twice", async () => {
    const first = await startSignIn(service.url, double, "rita");
    const second = await startSignIn(service.url, double, "rita");
    // An attacker's callback (their code and state) opened in a victim's browser: the cookie differs.
    const mixed = await fetch(first.callback, { headers: { cookie: second.stateCookie }, redirect: "manual" });
    expect(mixed.status).toBe(400);
    expect(await mixed.text()).toContain("could not be verified");
    expect(setCookie(mixed, "dstack_session")).toBeUndefined();
    const noCookie = await fetch(second.callback, { redirect: "manual" });
    expect(noCookie.status).toBe(400);
    expect(setCookie(noCookie, "dstack_session")).toBeUndefined();

    const ok = await fetch(second.callback, { headers: { cookie: second.stateCookie }, redirect: "manual" });
    expect(ok.status).toBe(200);
    const replay = await fetch(second.callback, { headers: { cookie: second.stateCookie }, redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("already used");
  });

  it("binds the code to the service's PKCE verifier: an intercepted code cannot be exchanged without it", async () => {
    const { callback } = await startSignIn(service.url, double, "rita");
    const code = new URL(callback).searchParams.get("code") ?? "";
    const stolen = await fetch(`${double.webUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: double.clientId, client_secret: double.clientSecret, code, redirect_uri: `${service.config.publicUrl}/login/github/callback`, code_verifier: "x".repeat(43) }),
    });
    expect(await stolen.json()).toMatchObject({ error: "bad_verification_code" });
  });

  it("shows GitHub's refusal when the user denies the app", async () => {
    const { stateCookie, callback } = await startSignIn(service.url, double, undefined);
    const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
    expect(back.status).toBe(401);
    expect(await back.text()).toContain("GitHub did not sign you in (The user has denied your application access.)");
    expect(setCookie(back, "dstack_session")).toBeUndefined();
  });

  it("ends the session on the server at sign-out: the old cookie no longer works", async () => {
    const cookie = await signIn("rita");
    expect((await get("/api/v1/runs", cookie)).status).toBe(200);
    const out = await fetch(`${service.url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
    expect(out.status).toBe(303);
    expect(setCookie(out, "dstack_session")?.attributes).toMatch(/Max-Age=0/);
    const after = await get("/api/v1/runs", cookie);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { message: string }).message).toBe("your session has ended (signed out or expired); sign in again");
    const page = await get("/", cookie, { accept: "text/html" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/login?next=%2F");
  });

  it("ends the session when the user's GitHub token expires", async () => {
    const shortDouble = await startGitHubDouble({ userTokenExpiresInSeconds: 2 });
    shortDouble.addRepo({ owner: "acme", name: "web" });
    const shortService = await startTestService({ redisUrl: redis.url, prefix: `${redis.prefix}-short`, github: shortDouble, env: oauthEnv(shortDouble) });
    try {
      const { stateCookie, callback } = await startSignIn(shortService.url, shortDouble, "rita");
      const back = await fetch(callback, { headers: { cookie: stateCookie }, redirect: "manual" });
      const session = setCookie(back, "dstack_session");
      expect(session?.attributes).toMatch(/Max-Age=[12];/);
      const ask = () => fetch(`${shortService.url}/api/v1/runs`, { headers: { cookie: session?.pair ?? "" } });
      expect((await ask()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2200));
      const after = await ask();
      expect(after.status).toBe(401);
    } finally {
      await shortService.stop();
      await shortDouble.close();
    }
  });

  it("keeps the CSRF rule for GitHub sessions: a state-changing call without the header is refused", async () => {
    const cookie = await signIn("ada");
    const res = await fetch(`${service.url}/api/v1/repos/acme/web/tags`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ tag: "v1", runId: webRun.id }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toContain("x-dstack-csrf");
  });
});

describe("per-user permissions", () => {
  it("shows a reader the repositories they can read, and 404 for the rest", async () => {
    const rita = await signIn("rita");
    const { runs } = (await (await get("/api/v1/runs", rita)).json()) as { runs: Array<{ id: string }> };
    expect(runs.map((r) => r.id)).toContain(webRun.id);
    expect(runs.map((r) => r.id)).not.toContain(secretRun.id);
    for (const p of [`/api/v1/runs/${secretRun.id}`, `/api/v1/runs/${secretRun.id}/logs`, `/api/v1/runs/${secretRun.id}/artifacts`, "/api/v1/repos/acme/secret/tags", "/api/v1/runs?repo=acme/secret"]) {
      const res = await get(p, rita);
      expect({ p, status: res.status }).toEqual({ p, status: 404 });
    }
    const missing = (await (await get(`/api/v1/runs/${secretRun.id}`, rita)).json()) as { message: string };
    expect(missing.message).toBe(`run "${secretRun.id}" does not exist`);
    expect((await get(`/runs/${secretRun.id}`, rita, { accept: "text/html" })).status).toBe(404);
    expect((await get("/repos/acme/secret/settings", rita, { accept: "text/html" })).status).toBe(404);

    const list = await (await get("/", rita, { accept: "text/html" })).text();
    expect(list).toContain("acme/web");
    expect(list).not.toContain("acme/secret");
    expect(list).not.toContain(secretRun.id);
  });

  it("gives a read-only user the run page without run, stop or tag buttons, and 403 from the API", async () => {
    const rita = await signIn("rita");
    const html = await (await get(`/runs/${webRun.id}`, rita, { accept: "text/html" })).text();
    expect(html).toContain("train");
    expect(html).not.toContain(`id="rerun"`);
    expect(html).not.toContain(`id="stop"`);
    expect(html).not.toContain(`id="tag-form"`);
    expect(html).toContain("Read-only");
    expect((await get(`/api/v1/runs/${webRun.id}/logs`, rita)).status).toBe(200);

    const tag = await send("POST", "/api/v1/repos/acme/web/tags", rita, { tag: "v1", runId: webRun.id });
    expect(tag.status).toBe(403);
    expect(((await tag.json()) as { message: string }).message).toBe(
      "@rita may not do this on acme/web: starting, stopping, re-running and tagging runs need write, maintain or admin permission on GitHub (you have read)",
    );
    expect((await send("POST", `/api/v1/runs/${webRun.id}/rerun`, rita)).status).toBe(403);
    expect((await send("POST", `/api/v1/runs/${webRun.id}/stop`, rita)).status).toBe(403);
    expect((await send("POST", `/api/v1/repos/acme/web/runs/${webRun.id}/approve`, rita)).status).toBe(403);
    expect((await get("/api/v1/repos/acme/web/secrets", rita)).status).toBe(403);
    const settings = await (await get("/repos/acme/web/settings", rita, { accept: "text/html" })).text();
    expect(settings).toContain("Secrets need admin permission");
    expect(settings).not.toContain(`id="secret-form"`);
  });

  it("lets a writer tag and shows them the buttons, but not the secrets", async () => {
    const walt = await signIn("walt");
    const html = await (await get(`/runs/${webRun.id}`, walt, { accept: "text/html" })).text();
    expect(html).toContain(`id="rerun"`);
    expect(html).toContain(`id="tag-form"`);
    const tag = await send("POST", "/api/v1/repos/acme/web/tags", walt, { tag: "walt-1", runId: webRun.id });
    expect(tag.status).toBe(201);
    expect((await send("DELETE", "/api/v1/repos/acme/web/tags/walt-1", walt)).status).toBe(200);
    expect((await get("/api/v1/repos/acme/web/secrets", walt)).status).toBe(403);
    // A stop names who asked for it, as a PR comment's does (the run page shows the reason).
    const waiting = await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "train", log: "", status: "submitted" });
    const stop = await send("POST", `/api/v1/runs/${waiting.id}/stop`, walt);
    expect(stop.status).toBe(202);
    expect(((await stop.json()) as { run: { status: string; reason?: string } }).run).toMatchObject({ status: "stopped", reason: "stopped by @walt" });
  });

  it("shows an admin the secrets and lets them change them", async () => {
    const ada = await signIn("ada");
    expect((await send("PUT", "/api/v1/repos/acme/web/secrets/TOKEN_A", ada, { value: "v-123" })).status).toBe(200);
    const list = (await (await get("/api/v1/repos/acme/web/secrets", ada)).json()) as { secrets: Array<{ name: string }> };
    expect(list.secrets.map((s) => s.name)).toEqual(["TOKEN_A"]);
    const settings = await (await get("/repos/acme/web/settings", ada, { accept: "text/html" })).text();
    expect(settings).toContain(`id="secret-form"`);
    expect(settings).toContain("<code>TOKEN_A</code>");
    expect((await send("DELETE", "/api/v1/repos/acme/web/secrets/TOKEN_A", ada)).status).toBe(200);
  });

  it("keeps full access for the API token", async () => {
    const res = await fetch(`${service.url}/api/v1/runs?repo=acme/secret`, { headers: { authorization: `Bearer ${service.keys.apiToken}` } });
    const { runs } = (await res.json()) as { runs: Array<{ id: string }> };
    expect(runs.map((r) => r.id)).toEqual([secretRun.id]);
  });
});

describe("personal CLI tokens", () => {
  const cli = (args: string[], token: string) =>
    runCli(args, configDir, { env: { DSTACK_URL: service.url, DSTACK_TOKEN: token, XDG_CONFIG_HOME: configDir, NO_COLOR: "1" } });

  async function makeToken(cookie: string): Promise<{ id: string; token: string }> {
    const res = await send("POST", "/api/v1/user/tokens", cookie);
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; token: string };
  }

  it("work with the real CLI within the user's permissions, and stop working when revoked", async () => {
    const ada = await signIn("ada");
    const rita = await signIn("rita");
    const older = await makeToken(ada);
    const made = await makeToken(ada);
    expect(made.token).toMatch(/^dstack_u_[A-Za-z0-9_-]{43}$/);
    const listed = (await (await get("/api/v1/user/tokens", ada)).json()) as { tokens: Array<{ id: string; createdAt: string }> };
    expect(listed.tokens.map((t) => t.id)).toEqual([made.id, older.id]);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    const stored = await service.redis.keys(`${redis.prefix}:cli-token:*`);
    expect(stored).toContain(`${redis.prefix}:cli-token:${createHash("sha256").update(made.token).digest("hex")}`);

    const runs = await cli(["runs", "--repo", "acme/web", "--json"], made.token);
    expect(runs.stderr).toBe("");
    expect(runs.code).toBe(0);
    expect((JSON.parse(runs.stdout) as Array<{ id: string }>).map((r) => r.id)).toContain(webRun.id);
    const secrets = await cli(["secrets", "list", "--repo", "acme/web"], made.token);
    expect(secrets.code).toBe(0);

    const reader = await makeToken(rita);
    const refused = await cli(["secrets", "list", "--repo", "acme/web"], reader.token);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("@rita may not do this on acme/web: the repository's secrets need admin permission on GitHub");
    const hidden = await cli(["runs", "--repo", "acme/secret"], reader.token);
    expect(hidden.code).toBe(2);
    // A CLI token cannot make more tokens.
    const mint = await fetch(`${service.url}/api/v1/user/tokens`, { method: "POST", headers: { authorization: `Bearer ${reader.token}` } });
    expect(mint.status).toBe(403);

    const settings = await (await get("/settings", ada, { accept: "text/html" })).text();
    expect(settings).toContain(`data-revoke="${made.id}"`);
    expect(settings).not.toContain(made.token);
    expect((await send("DELETE", `/api/v1/user/tokens/${made.id}`, ada)).status).toBe(200);
    const revoked = await cli(["runs", "--repo", "acme/web"], made.token);
    expect(revoked.code).toBe(4);
    expect(revoked.stderr).toContain("revoked");
    expect((await cli(["runs", "--repo", "acme/web"], older.token)).code).toBe(0);
  });

  it("shows an API-token session the dstack config command without the token", async () => {
    const login = await fetch(`${service.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: service.keys.apiToken, next: "/" }).toString(),
      redirect: "manual",
    });
    const cookie = setCookie(login, "dstack_session")?.pair ?? "";
    const html = await (await get("/settings", cookie, { accept: "text/html" })).text();
    expect(html).toContain(`dstack config --url ${service.config.publicUrl} --token`);
    expect(html).not.toContain(service.keys.apiToken);
    expect(html).not.toContain("cli-token-create");
    expect((await send("POST", "/api/v1/user/tokens", cookie)).status).toBe(403);
  });

  it("store a code upload only for a repository their user may write to (anyone on GitHub can sign in)", async () => {
    const reader = await makeToken(await signIn("rita"));
    const writer = await makeToken(await signIn("walt"));
    const stranger = await makeToken(await signIn("mallory"));
    const upload = async (token: string, query: string) =>
      (await fetch(`${service.url}/api/v1/uploads${query}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" }, body: "not a tarball" })).status;
    const before = (await service.artifacts.list("uploads/")).length;
    expect({
      strangerNoRepo: await upload(stranger.token, ""),
      strangerOther: await upload(stranger.token, "?repo=acme/secret"),
      readerNoRepo: await upload(reader.token, ""),
      reader: await upload(reader.token, "?repo=acme/web"),
    }).toEqual({ strangerNoRepo: 400, strangerOther: 404, readerNoRepo: 400, reader: 403 });
    expect((await service.artifacts.list("uploads/")).length).toBe(before);
    expect({ writer: await upload(writer.token, "?repo=acme/web"), apiToken: await upload(service.keys.apiToken, "") }).toEqual({ writer: 201, apiToken: 201 });
    expect((await service.artifacts.list("uploads/")).length).toBe(before + 2);
  });

  it("asked GitHub only as GitHub allows (no OpenAPI violations)", () => {
    double.assertNoViolations();
  });
});

describe("personal CLI tokens: labels, expiry, last use", () => {
  const DAY_MS = 24 * 3600_000;
  const cliEnv = (token: string | undefined): Record<string, string> => ({
    DSTACK_URL: service.url,
    XDG_CONFIG_HOME: configDir,
    NO_COLOR: "1",
    ...(token === undefined ? {} : { DSTACK_TOKEN: token }),
  });
  const cli = (args: string[], token: string | undefined, input?: string) => runCli(args, configDir, { env: cliEnv(token), input });
  const tokenKey = (token: string) => `${redis.prefix}:cli-token:${createHash("sha256").update(token).digest("hex")}`;

  interface Made {
    id: string;
    token: string;
    label: string;
    expiresAt: string | null;
    login: string;
  }

  async function make(cookie: string, body?: unknown): Promise<Made> {
    const res = await send("POST", "/api/v1/user/tokens", cookie, body);
    expect(res.status).toBe(201);
    return (await res.json()) as Made;
  }

  async function listed(cookie: string): Promise<Array<{ id: string; label: string; expiresAt: string | null; expired: boolean; lastUsedAt: string | null; current: boolean }>> {
    return ((await (await get("/api/v1/user/tokens", cookie)).json()) as { tokens: Awaited<ReturnType<typeof listed>> }).tokens;
  }

  it("are made with a label and an expiry: `cli` and 90 days by default, `never` on request; a bad one is refused", async () => {
    const ada = await signIn("ada");
    const before = Date.now();
    const labelled = await make(ada, { label: " laptop ", expiresIn: "30d" });
    const plain = await make(ada);
    const forever = await make(ada, { label: "ci", expiresIn: "never" });
    expect(labelled.label).toBe("laptop");
    expect(Date.parse(labelled.expiresAt ?? "") - before).toBeGreaterThanOrEqual(30 * DAY_MS);
    expect(Date.parse(labelled.expiresAt ?? "") - Date.now()).toBeLessThanOrEqual(30 * DAY_MS);
    expect(plain.label).toBe("cli");
    expect(Date.parse(plain.expiresAt ?? "") - before).toBeGreaterThanOrEqual(90 * DAY_MS);
    expect(Date.parse(plain.expiresAt ?? "") - Date.now()).toBeLessThanOrEqual(90 * DAY_MS);
    expect(forever.expiresAt).toBeNull();
    const bad = await send("POST", "/api/v1/user/tokens", ada, { expiresIn: "soon" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe('bad expiresIn "soon": write a number of days or hours (`30d`, `12h`, at most 3650d) or `never`');
    expect((await send("POST", "/api/v1/user/tokens", ada, { label: "x".repeat(65) })).status).toBe(400);
    expect((await send("POST", "/api/v1/user/tokens", ada, { label: "a\u0007b" })).status).toBe(400);
    const mine = await listed(ada);
    expect(mine.find((t) => t.id === labelled.id)).toMatchObject({ label: "laptop", expiresAt: labelled.expiresAt, expired: false, lastUsedAt: null, current: false });
    expect(mine.find((t) => t.id === forever.id)).toMatchObject({ label: "ci", expiresAt: null, expired: false });
  });

  it("refuse an expired token with a 401 saying it expired and how to get a new one, in the API and the real CLI", async () => {
    const ada = await signIn("ada");
    const made = await make(ada, { label: "old-laptop", expiresIn: "1h" });
    expect((await cli(["runs", "--repo", "acme/web", "--json"], made.token)).code).toBe(0);
    // An hour later: the stored expiry moved into the past (the clock of a real service is not ours to move).
    const record = JSON.parse((await service.redis.get(tokenKey(made.token))) ?? "{}") as { expiresAt: number };
    const expiredAt = Date.now() - 1000;
    await service.redis.set(tokenKey(made.token), JSON.stringify({ ...record, expiresAt: expiredAt }));
    const res = await fetch(`${service.url}/api/v1/runs?repo=acme/web`, { headers: { authorization: `Bearer ${made.token}` } });
    expect(res.status).toBe(401);
    const when = `${new Date(expiredAt).toISOString().slice(0, 16).replace("T", " ")} UTC`;
    const message = `this personal CLI token ("old-laptop", ${made.id}) expired on ${when}; create a new one on the service's settings page (/settings) and store it with \`dstack config --token\``;
    expect(((await res.json()) as { message: string }).message).toBe(message);
    const refused = await cli(["runs", "--repo", "acme/web"], made.token);
    expect(refused).toEqual({ code: 4, stdout: "", stderr: `dstack: the server at ${service.url} refused the token: ${message}\n` });
    expect((await listed(ada)).find((t) => t.id === made.id)).toMatchObject({ expired: true });
    const page = await (await get("/settings", ada, { accept: "text/html" })).text();
    expect(page).toMatch(new RegExp(`<tr data-token-id="${made.id}"><td><code>${made.id}</code></td><td>old-laptop</td><td>[^<]+</td><td><strong>expired</strong> `));
    // Revoking it is how it goes away.
    expect((await send("DELETE", `/api/v1/user/tokens/${made.id}`, ada)).status).toBe(200);
    expect((await cli(["runs", "--repo", "acme/web"], made.token)).stderr).toContain("revoked or never existed");
  });

  /** Records as the service wrote them before labels, expiry and user ids were kept. */
  async function legacyToken(id: string, createdAt: number): Promise<{ token: string; key: string }> {
    const token = `dstack_u_made-before-expiry-existed-${id}-0123456789abcdefghijk`;
    const hash = createHash("sha256").update(token).digest("hex");
    await service.redis.set(`${redis.prefix}:cli-token:${hash}`, JSON.stringify({ id, login: "ada", createdAt }));
    await service.redis.hset(`${redis.prefix}:cli-tokens:ada`, id, JSON.stringify({ hash, createdAt }));
    return { token, key: `${redis.prefix}:cli-token:${hash}` };
  }

  it("made before expiry existed: no label, an implied expiry 90 days after creation, refused after it like any expired token", async () => {
    const ada = await signIn("ada");
    const youngAt = Date.now() - 80 * DAY_MS;
    const oldAt = Date.now() - 100 * DAY_MS;
    const young = await legacyToken("0ld70ken0001", youngAt);
    const old = await legacyToken("0ld70ken0002", oldAt);
    expect((await cli(["runs", "--repo", "acme/web", "--json"], young.token)).code).toBe(0);
    // Its use is recorded without making the implied expiry explicit, and its record now expires with it (plus the grace).
    const stored = JSON.parse((await service.redis.get(young.key)) ?? "{}") as Record<string, unknown>;
    expect(stored).not.toHaveProperty("expiresAt");
    expect(typeof stored.lastUsedAt).toBe("number");
    expect(await service.redis.pexpiretime(young.key)).toBe(youngAt + 120 * DAY_MS);
    const mine = await listed(ada);
    // Reading the login's old list gave it a TTL: that of its longest-lived token.
    expect(await service.redis.pexpiretime(`${redis.prefix}:cli-tokens:ada`)).toBe(youngAt + 120 * DAY_MS);
    expect(mine.find((t) => t.id === "0ld70ken0001")).toMatchObject({ label: "", expiresAt: new Date(youngAt + 90 * DAY_MS).toISOString(), expired: false, expiryImplied: true });
    expect(mine.find((t) => t.id === "0ld70ken0002")).toMatchObject({ expiresAt: new Date(oldAt + 90 * DAY_MS).toISOString(), expired: true, expiryImplied: true });
    const when = `${new Date(oldAt + 90 * DAY_MS).toISOString().slice(0, 16).replace("T", " ")} UTC`;
    const message = `this personal CLI token (0ld70ken0002) expired on ${when}; create a new one on the service's settings page (/settings) and store it with \`dstack config --token\``;
    const res = await fetch(`${service.url}/api/v1/runs?repo=acme/web`, { headers: { authorization: `Bearer ${old.token}` } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe(message);
    const table = await cli(["tokens", "list"], young.token);
    expect(table.stdout).toMatch(/^0ld70ken0001 \*\s+-\s+\d{4}-\d\d-\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC \(implied\)\s+\d+s ago$/m);
    const page = await (await get("/settings", ada, { accept: "text/html" })).text();
    expect(page).toMatch(/<tr data-token-id="0ld70ken0001"><td><code>0ld70ken0001<\/code><\/td><td><span class="muted">no label<\/span><\/td><td>[^<]+<\/td><td>\d{4}-[^<]+ <span class="muted" title="[^"]+">\(implied\)<\/span><\/td><td>\d{4}-/);
    expect(page).toMatch(/<tr data-token-id="0ld70ken0002"><td><code>0ld70ken0002<\/code><\/td><td><span class="muted">no label<\/span><\/td><td>[^<]+<\/td><td><strong>expired<\/strong> [^<]+ <span class="muted"/);
    for (const id of ["0ld70ken0001", "0ld70ken0002"]) expect((await send("DELETE", `/api/v1/user/tokens/${id}`, ada)).status).toBe(200);
  });

  it("an explicit `never` token made today stays valid: only tokens without a stored expiry get the implied one", async () => {
    const ada = await signIn("ada");
    const forever = await make(ada, { label: "ci", expiresIn: "never" });
    // Made long ago by the clock (as a token asked for with `never` would be, years from now).
    const record = JSON.parse((await service.redis.get(tokenKey(forever.token))) ?? "{}") as { createdAt: number };
    await service.redis.set(tokenKey(forever.token), JSON.stringify({ ...record, createdAt: Date.now() - 400 * DAY_MS }));
    expect((await cli(["runs", "--repo", "acme/web", "--json"], forever.token)).code).toBe(0);
    expect(await service.redis.ttl(tokenKey(forever.token))).toBe(-1);
    expect((await listed(ada)).find((t) => t.id === forever.id)).toMatchObject({ expiresAt: null, expired: false, expiryImplied: false });
    expect((await send("DELETE", `/api/v1/user/tokens/${forever.id}`, ada)).status).toBe(200);
  });

  it("are deleted 30 days after they expire: a Redis TTL on the record, pruned from the list and from a lookup, no index entry left", async () => {
    // A user of their own: the list's TTL is that of its longest-lived token.
    const owen = await signIn("owen");
    const made = await make(owen, { label: "short", expiresIn: "1h" });
    const expiresAt = Date.parse(made.expiresAt ?? "");
    expect(await service.redis.pexpiretime(tokenKey(made.token))).toBe(expiresAt + 30 * DAY_MS);
    const owenList = `${redis.prefix}:cli-tokens:#${double.userId("owen")}`;
    expect(await service.redis.pexpiretime(owenList)).toBe(expiresAt + 30 * DAY_MS);
    // 29 days after expiry it is still listed, as expired.
    const record = JSON.parse((await service.redis.get(tokenKey(made.token))) ?? "{}") as Record<string, unknown>;
    await service.redis.set(tokenKey(made.token), JSON.stringify({ ...record, expiresAt: Date.now() - 29 * DAY_MS }));
    expect((await listed(owen)).find((t) => t.id === made.id)).toMatchObject({ expired: true });
    // 31 days after: a request with it deletes both records and finds nothing.
    await service.redis.set(tokenKey(made.token), JSON.stringify({ ...record, expiresAt: Date.now() - 31 * DAY_MS }));
    expect((await cli(["runs", "--repo", "acme/web"], made.token)).stderr).toContain("revoked or never existed");
    expect(await service.redis.exists(tokenKey(made.token))).toBe(0);
    expect(await service.redis.hexists(owenList, made.id)).toBe(0);
    // A record Redis expired by its TTL: the list's entry goes when the list is read.
    const gone = await make(owen, { label: "gone", expiresIn: "1h" });
    await service.redis.del(tokenKey(gone.token));
    expect((await listed(owen)).map((t) => t.id)).not.toContain(gone.id);
    expect(await service.redis.hexists(owenList, gone.id)).toBe(0);
    // A legacy token past its implied expiry and grace: gone from the login's list when it is read.
    const ancient = await legacyToken("0ld70ken0003", Date.now() - 130 * DAY_MS);
    expect((await listed(await signIn("ada"))).map((t) => t.id)).not.toContain("0ld70ken0003");
    expect(await service.redis.exists(ancient.key)).toBe(0);
    expect(await service.redis.hexists(`${redis.prefix}:cli-tokens:ada`, "0ld70ken0003")).toBe(0);
  });

  it("record their last use, and the CLI lists and revokes its user's tokens but cannot make one", async () => {
    // A user with no tokens yet (and no repository): listing and revoking need none.
    const tina = await signIn("tina");
    const used = await make(tina, { label: "desk" });
    const other = await make(tina, { label: "spare", expiresIn: "never" });
    const before = Date.now();
    const json = await cli(["tokens", "list", "--json"], used.token);
    expect(json.code).toBe(0);
    const tokens = JSON.parse(json.stdout) as Awaited<ReturnType<typeof listed>>;
    expect(tokens.map((t) => [t.id, t.label, t.current])).toEqual([
      [other.id, "spare", false],
      [used.id, "desk", true],
    ]);
    expect(Date.parse(tokens[1]?.lastUsedAt ?? "")).toBeGreaterThanOrEqual(before - 1000);
    expect(tokens[0]?.lastUsedAt).toBeNull();
    const table = await cli(["tokens", "list"], used.token);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+LABEL\s+CREATED\s+EXPIRES\s+LAST USED$/);
    expect(table.stdout).toMatch(new RegExp(`^${other.id}\\s+spare\\s+\\d{4}-\\d\\d-\\d\\d\\s+no expiry\\s+never$`, "m"));
    expect(table.stdout).toMatch(new RegExp(`^${used.id} \\*\\s+desk\\s+\\d{4}-\\d\\d-\\d\\d\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\s+\\d+s ago$`, "m"));
    expect(table.stderr).toBe("2 tokens of @tina; * is the one this CLI uses\n");
    expect(await cli(["tokens", "revoke", other.id], used.token)).toEqual({ code: 0, stdout: `revoked CLI token ${other.id}\n`, stderr: "" });
    expect((await cli(["tokens", "list"], other.token)).code).toBe(4);
    expect(await cli(["tokens", "revoke", other.id], used.token)).toEqual({ code: 2, stdout: "", stderr: `dstack: you have no CLI token "${other.id}"\n` });
    // Another user's token id is not theirs to revoke.
    const adaToken = await make(await signIn("ada"));
    expect((await cli(["tokens", "revoke", adaToken.id], used.token)).code).toBe(2);
    expect((await cli(["runs", "--repo", "acme/web"], adaToken.token)).code).toBe(0);
    // Still no minting with a CLI token; and the service's API token has no tokens of its own.
    expect((await fetch(`${service.url}/api/v1/user/tokens`, { method: "POST", headers: { authorization: `Bearer ${used.token}` } })).status).toBe(403);
    const service403 = await cli(["tokens", "list"], service.keys.apiToken);
    expect(service403.code).toBe(4);
    expect(service403.stderr).toContain("personal CLI tokens belong to people who signed in with GitHub");
    for (const t of [used, other, adaToken]) expect(service.logLines.join("\n")).not.toContain(t.token);
  });

  it("are made for this machine by `dstack login`: the settings page it names is filled in, and the pasted token is stored", async () => {
    const res = await cli(["login", "--label", "build-box", "--expires-in", "30d"], undefined, "not-yet\n");
    // The address comes first; the token read from stdin is checked with the server before anything is stored.
    const address = `${service.url}/settings?token-label=build-box&token-expires-in=30d#cli-h`;
    expect(res.stderr.split("\n")[0]).toBe(`dstack: open ${address} signed in with GitHub, press "Create a CLI token" and paste the token here`);
    expect(res.code).toBe(4);
    const ada = await signIn("ada");
    const page = await (await get(address.replace(service.url, "").replace("#cli-h", ""), ada, { accept: "text/html" })).text();
    expect(page).toContain('<input id="cli-token-label" name="label" maxlength="64" value="build-box"');
    expect(page).toContain('<option value="30d" selected>30 days</option>');
    const made = await make(ada, { label: "build-box", expiresIn: "30d" });
    const login = await cli(["login", "--label", "build-box", "--expires-in", "30d"], undefined, `${made.token}\n`);
    const file = path.join(configDir, "dstack", "config.json");
    expect(login.stderr.split("\n")[1]).toBe(
      `dstack: logged in to ${service.url} as @ada with token ${made.id} (build-box, expires ${(made.expiresAt ?? "").slice(0, 10)}); saved to ${file}`,
    );
    expect(login.code).toBe(0);
    expect((await cli(["runs", "--repo", "acme/web", "--json"], undefined)).code).toBe(0);
    const typo = await cli(["login", "--expires-in", "soon"], undefined);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('dstack: bad --expires-in "soon": write a number of days or hours (`30d`, `12h`, at most 3650d) or `never`\n');
    await rm(file);
  });

  it("asked GitHub only as GitHub allows (no OpenAPI violations)", () => {
    double.assertNoViolations();
  });
});
