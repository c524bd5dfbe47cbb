import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";
import type { Run } from "../../src/runs/types.js";

/** The server-rendered pages: sign-in, security headers, and escaping of every user-provided string. */

const SCRIPT = "<script>alert(1)</script>";
const IMG = `"><img src=x onerror=alert(1)>`;

let redis: TestRedis;
let service: TestService;
let run: Run;
let cookie: string;

async function page(p: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${service.url}${p}`, { headers: { accept: "text/html", cookie, ...headers }, redirect: "manual" });
}

beforeAll(async () => {
  redis = await startRedis("pages");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  run = await seedRun(service, redis.prefix, {
    repo: "acme/web",
    workflow: `${SCRIPT}${IMG}`,
    log: `first line\n${SCRIPT} ${IMG}\n\u001b[31mred\u001b[0m\n`,
    artifacts: [{ path: `${SCRIPT.slice(0, 17)}/${IMG}.png`, body: Buffer.from("not really a png") }],
  });
  const login = await fetch(`${service.url}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: service.keys.apiToken, next: "/" }).toString(),
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
});

describe("the web pages", () => {
  it("sends a browser without a session to the sign-in page, and a script a 401", async () => {
    for (const p of ["/", `/runs/${run.id}`, "/repos/acme/web/settings", `/runs/${run.id}/log`]) {
      const res = await page(p, { cookie: "" });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent(p)}`);
    }
    const api = await fetch(`${service.url}/`, { headers: { accept: "application/json" } });
    expect(api.status).toBe(401);
    const forged = await page("/", { cookie: "dstack_session=9999999999.forged" });
    expect(forged.status).toBe(303);
  });

  it("refuses a wrong token at sign-in and sets an HttpOnly, SameSite=Strict cookie for the right one", async () => {
    const bad = await fetch(`${service.url}/login`, { method: "POST", body: "token=nope&next=/", headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
    const good = await fetch(`${service.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ token: service.keys.apiToken, next: "//evil.example/" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    expect(good.headers.get("location")).toBe("/");
    expect(good.headers.get("set-cookie")).toMatch(/^dstack_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/);
  });

  it("sends the security headers on every page: a CSP without inline scripts, no framing, no sniffing", async () => {
    for (const p of ["/", `/runs/${run.id}`, "/repos/acme/web/settings", "/login"]) {
      const res = await page(p);
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      const html = await res.text();
      // Every script is an external file of this service.
      expect(html.match(/<script[^>]*>/g)?.every((tag) => / src="\/assets\/[a-z-]+\.js"/.test(tag)) ?? true).toBe(true);
      expect(html).not.toMatch(/ on[a-z]+=/i);
    }
  });

  it("shows a hostile workflow name and artifact name as text on the run page and in the runs list", async () => {
    for (const p of [`/runs/${run.id}`, "/?repo=acme/web"]) {
      const html = await (await page(p)).text();
      expect(html).not.toContain(SCRIPT);
      expect(html).not.toContain("<img src=x");
      expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;");
    }
    const runPage = await (await page(`/runs/${run.id}`)).text();
    expect(runPage).toContain("&lt;script&gt;alert(1)&lt;");
    expect(runPage).toContain("&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;.png");
    const fileUrl = `/api/v1/runs/${run.id}/artifacts/file?path=${encodeURIComponent(`${SCRIPT.slice(0, 17)}/${IMG}.png`)}`;
    expect(runPage).toContain(`href="${fileUrl.replace(/=/g, "&#x3D;")}"`);
  });

  it("serves the log as a download and the page's script through the API with the session cookie", async () => {
    expect((await page(`/runs/${run.id}/log`)).headers.get("content-disposition")).toBeNull();
    const log = await page(`/runs/${run.id}/log?download=1`);
    expect(log.headers.get("content-disposition")).toContain("attachment");
    expect(log.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await log.text()).toContain(SCRIPT);
    const range = await fetch(`${service.url}/api/v1/runs/${run.id}/logs?offset=0`, { headers: { cookie } });
    expect(range.status).toBe(200);
    expect(range.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const asset = await fetch(`${service.url}/assets/run-page.js`);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await fetch(`${service.url}/assets/..%2Fpackage.json`)).status).toBe(404);
    // The icon: linked by every page, and where browsers look for it by default.
    const icon = await fetch(`${service.url}/favicon.ico`);
    expect({ status: icon.status, type: icon.headers.get("content-type"), url: icon.url }).toEqual({ status: 200, type: "image/svg+xml", url: `${service.url}/assets/favicon.svg` });
    expect(await icon.text()).toMatch(/^<svg /);
  });

  it("lets the session cookie change state through the API only with the CSRF header", async () => {
    const put = (headers: Record<string, string>) =>
      fetch(`${service.url}/api/v1/repos/acme/web/secrets/CSRF_CHECK`, { method: "PUT", headers: { cookie, "content-type": "application/json", ...headers }, body: JSON.stringify({ value: "v" }) });
    expect((await put({})).status).toBe(401);
    expect((await put({ "x-dstack-csrf": "1", "sec-fetch-site": "cross-site" })).status).toBe(401);
    expect((await put({ "x-dstack-csrf": "1" })).status).toBe(200);
    const del = await fetch(`${service.url}/api/v1/repos/acme/web/secrets/CSRF_CHECK`, { method: "DELETE", headers: { cookie, "x-dstack-csrf": "1" } });
    expect(del.status).toBe(200);
  });

  it("refuses a sign-out form another site posts, which would otherwise clear the session cookie", async () => {
    const logout = (headers: Record<string, string>) => fetch(`${service.url}/logout`, { method: "POST", headers: { cookie, ...headers }, redirect: "manual" });
    const forged = await logout({ "sec-fetch-site": "cross-site", accept: "text/html" });
    expect(forged.status).toBe(403);
    expect(forged.headers.getSetCookie()).toEqual([]);
    const own = await logout({ "sec-fetch-site": "same-origin" });
    expect(own.status).toBe(303);
    expect(own.headers.getSetCookie()).toEqual(["dstack_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"]);
  });

  it("filters the runs list by status and tag and lists the repository", async () => {
    const all = await (await page("/")).text();
    expect(all).toContain(`href="/?repo=acme/web"`);
    expect(all).toContain(`data-run-id="${run.id}"`);
    expect(await (await page("/?status=failed")).text()).not.toContain(`data-run-id="${run.id}"`);
    expect(await (await page("/?tag=nope")).text()).not.toContain(`data-run-id="${run.id}"`);
    expect(await (await page("/?status=done&repo=acme/web")).text()).toContain(`data-run-id="${run.id}"`);
  });

  it("tells an empty list of a repository without runs from one the filters emptied", async () => {
    expect(await (await page("/?repo=nobody/none")).text()).toContain("No runs of nobody/none yet.");
    const filtered = await (await page("/?repo=acme/web&tag=nope")).text();
    expect(filtered).toContain(`No runs match these filters. <a href="/?repo&#x3D;acme%2Fweb">Show all runs of acme/web</a>`);
  });

  it("says a failed run's exit code once, and keeps it beside a reason that does not name it", async () => {
    const failed = await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "bad-command", log: "bash: nope: command not found\n", status: "failed" });
    await service.store.update(failed.id, { exitCode: 127, reason: "the workflow exited with code 127" });
    const summary = (html: string) => /<p class="muted" id="run-summary">([^\n]*)<\/p>/.exec(html)?.[1];
    expect(summary(await (await page(`/runs/${failed.id}`)).text())).toBe(
      `run <code>${failed.id}</code> · acme/web · <span id="run-reason">the workflow exited with code 127</span>`,
    );
    await service.store.update(failed.id, { reason: "runner lost" });
    expect(summary(await (await page(`/runs/${failed.id}`)).text())).toBe(`run <code>${failed.id}</code> · acme/web · <span id="run-reason">runner lost</span> · exit code 127`);
  });

  it("sorts artifact names as a person would and says when the list leaves files out", async () => {
    const many = await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "many-files", log: "ok\n" });
    await service.store.setArtifacts(many.id, Array.from({ length: 2003 }, (_, i) => ({ path: `out/epoch-${i + 1}.txt`, sizeBytes: 1 })));
    const html = await (await page(`/runs/${many.id}`)).text();
    const names = [...html.matchAll(/>(epoch-\d+\.txt)<\/a>/g)].map((m) => m[1]);
    expect(names.slice(0, 3)).toEqual(["epoch-1.txt", "epoch-2.txt", "epoch-3.txt"]);
    expect(names).toHaveLength(2000);
    expect(html).toContain("Listed: the first 2000 of 2003 files; the tar.gz has them all.");
    expect(await (await page(`/runs/${run.id}`)).text()).not.toContain("Listed: the first");
  });
});
