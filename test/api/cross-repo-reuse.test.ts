import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pino from "pino";
import { Probot } from "probot";
import { AppOctokit } from "../../src/github/app-octokit.js";
import type { GitHubClient } from "../../src/github/client.js";
import { startRunGroup } from "../../src/github/start-runs.js";
import { resolveRunRequest } from "../../src/runs/resolve-run-request.js";
import { isTerminal, type Run } from "../../src/runs/types.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { TEST_PRIVATE_KEY } from "../helpers/test-keys.js";

/**
 * A dependency may reuse another repository's run (`owner/repo/workflow:tag`): its artifacts become
 * the new run's inputs, readable by everyone who can read the new run's repository. Through the API,
 * a GitHub user may do that only from a repository they can read themselves; else write access to
 * any repository (anyone's own) would read every private repository's artifacts on this service.
 * From a webhook (push, tag, comment, re-run), only from a repository the app's installation on the
 * run's repository can see: public, or in the same installation.
 */

let redis: TestRedis;
let double: GitHubDouble;
let service: TestService;
let secretRun: Run;
let webSha: string;

/** "Sign in with GitHub" through the double: the session cookie (`dstack_session=g....`). */
async function signIn(login: string): Promise<string> {
  double.signInAs(login);
  const start = await fetch(`${service.url}/login/github`, { redirect: "manual" });
  const state = start.headers.getSetCookie().find((c) => c.startsWith("dstack_oauth="))?.split(";")[0] ?? "";
  const atGitHub = await fetch(start.headers.get("location") ?? "", { redirect: "manual" });
  const back = await fetch(atGitHub.headers.get("location") ?? "", { headers: { cookie: state }, redirect: "manual" });
  expect(back.status).toBe(200);
  return back.headers.getSetCookie().find((c) => c.startsWith("dstack_session="))?.split(";")[0] ?? "";
}

/** A state-changing call from the service's own pages: the session cookie and the CSRF header. */
function send(method: string, p: string, cookie: string, body: string, contentType = "application/json"): Promise<Response> {
  return fetch(`${service.url}${p}`, { method, headers: { cookie, "x-dstack-csrf": "1", "content-type": contentType }, body });
}

/** Submits `train`, which reuses acme/secret's `hidden` run tagged v1, to acme/web as the user of `cookie`. */
async function submitReusingSecret(cookie: string): Promise<Response> {
  const uploaded = await send("POST", "/api/v1/uploads?repo=acme/web", cookie, "a tarball", "application/gzip");
  expect(uploaded.status).toBe(201);
  const { upload } = (await uploaded.json()) as { upload: string };
  const workflows = "workflows:\n  - name: train\n    provider: bash\n    depends-on: [acme/secret/hidden:v1]\n    commands: [\"ls\"]\n";
  return send(
    "POST",
    "/api/v1/runs",
    cookie,
    JSON.stringify({ repo: "acme/web", run: ["train"], code: { kind: "upload", upload }, files: [{ path: ".dstack/workflows.yaml", text: workflows }] }),
  );
}

beforeAll(async () => {
  redis = await startRedis("cross-repo-reuse");
  double = await startGitHubDouble();
  ({ sha: webSha } = double.addRepo({ owner: "acme", name: "web", private: true }));
  double.addRepo({ owner: "acme", name: "secret", private: true });
  double.setPermission("acme", "web", "walt", "write");
  double.setPermission("acme", "web", "ada", "write");
  double.setPermission("acme", "secret", "ada", "read");
  double.addRepo({ owner: "other", name: "private", private: true, installationId: 2 });
  double.addRepo({ owner: "other", name: "public", private: false, installationId: 2 });
  service = await startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    github: double,
    env: { GITHUB_CLIENT_ID: double.clientId, GITHUB_CLIENT_SECRET: double.clientSecret },
  });
  secretRun = await seedRun(service, redis.prefix, { repo: "acme/secret", workflow: "hidden", log: "x\n", artifacts: [{ path: "weights.bin", body: Buffer.from("private") }] });
  const tagged = await fetch(`${service.url}/api/v1/repos/acme/secret/tags`, {
    method: "POST",
    headers: { authorization: `Bearer ${service.keys.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ tag: "v1", runId: secretRun.id }),
  });
  expect(tagged.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await double?.close();
  await redis?.stop();
});

describe("reusing another repository's run through the API", () => {
  it("is refused, as if the repository did not exist, to a user who cannot read it, and creates no run", async () => {
    const before = (await service.store.list({ repo: "acme/web", limit: 100 })).length;
    const res = await submitReusingSecret(await signIn("walt"));
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("not_found");
    expect(body.message).toContain("acme/secret");
    expect(body.message).not.toContain(secretRun.id);
    expect((await service.store.list({ repo: "acme/web", limit: 100 })).length).toBe(before);
  });

  it("is allowed to a user who can read it (the input is that run), and re-run only by such a user", async () => {
    const res = await submitReusingSecret(await signIn("ada"));
    expect(res.status).toBe(201);
    const { run } = (await res.json()) as { run: { id: string } };
    const stored = await service.store.get(run.id);
    expect(stored.inputs.map((i) => i.runId)).toEqual([secretRun.id]);
    expect((await send("POST", `/api/v1/runs/${run.id}/stop`, await signIn("ada"), "")).status).toBe(202);
    for (let i = 0; i < 200 && !isTerminal((await service.store.get(run.id)).status); i++) await new Promise((r) => setTimeout(r, 100));
    // A writer who cannot read acme/secret does not get its artifacts by re-running ada's run either.
    const rerun = await send("POST", `/api/v1/runs/${run.id}/rerun`, await signIn("walt"), "");
    expect({ status: rerun.status, code: ((await rerun.json()) as { code: string }).code }).toEqual({ status: 404, code: "not_found" });
    expect((await send("POST", `/api/v1/runs/${run.id}/rerun`, await signIn("ada"), "")).status).toBe(201);
  });
});

describe("reusing another repository's run from a webhook", () => {
  /** Starts `train` of acme/web (installation 1) that reuses `repo`'s `hidden` run tagged v1, as a push would. */
  async function pushReusing(repo: string): Promise<Run[]> {
    const seeded = await seedRun(service, redis.prefix, { repo, workflow: "hidden", log: "x\n" });
    await service.store.tag(seeded, "v1");
    const probot = new Probot({ appId: double.appId, privateKey: TEST_PRIVATE_KEY, baseUrl: double.url, log: pino({ level: "silent" }), Octokit: AppOctokit });
    const github = (await probot.auth(double.installationId)) as unknown as GitHubClient;
    const text = `workflows:\n  - name: train\n    provider: bash\n    depends-on: [${repo}/hidden:v1]\n    commands: ["ls"]\n`;
    const resolved = resolveRunRequest([{ path: ".dstack/workflows.yaml", text }], ["train"]);
    if (!resolved.ok) throw new Error(resolved.message);
    const runs = await startRunGroup(
      { github, store: service.store, redis: service.redis, publicUrl: service.url, enqueueRun: async () => undefined, log: { info: () => undefined } },
      { onceKey: `${redis.prefix}:once:${repo}`, repo: "acme/web", commit: webSha, trigger: { kind: "push", actor: "walt" }, workflows: resolved.workflows, target: resolved.target, variables: {}, code: { kind: "github" } },
    );
    expect(runs.at(-1)?.inputs.map((i) => i.runId)).toEqual([seeded.id]);
    return runs;
  }

  it("is refused for another account's private repository the installation cannot see", async () => {
    await expect(pushReusing("other/private")).rejects.toMatchObject({ code: "not_found", message: expect.stringContaining("other/private") });
  });

  it("is allowed for a public repository of another account", async () => {
    expect(await pushReusing("other/public")).toHaveLength(1);
  });
});
