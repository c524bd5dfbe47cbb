import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { c as createTar, t as listTar } from "tar";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, type TestService } from "../helpers/service.js";

/** The HTTP API of the CLI, `/api/v1`, against the whole service (no GitHub: code is uploaded). */

const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - for i in 1 2 3 4 5; do echo "line $i"; done
      - mkdir -p out && echo "artifact" > out/a.txt
    artifacts: [out]
  - name: after
    provider: bash
    depends-on: [hello]
    commands: ["echo after"]
`;
const FILES = [{ path: ".dstack/workflows.yaml", text: WORKFLOWS }];

let redis: TestRedis;
let service: TestService;
let tree: string;

async function api(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${service.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${service.keys.apiToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function upload(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of createTar({ gzip: true, cwd: tree, portable: true }, ["."])) chunks.push(c as Buffer);
  const res = await fetch(`${service.url}/api/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${service.keys.apiToken}`, "content-type": "application/gzip" },
    body: Buffer.concat(chunks),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { upload: string }).upload;
}

interface RunBody {
  id: string;
  status: string;
  workflow: string;
  logBytes: number;
}

/** Polls until the run has ended; 50 s (within the test's 60 s) covers two runs on a loaded machine. */
async function waitForEnd(id: string): Promise<RunBody> {
  for (const deadline = Date.now() + 50_000; Date.now() < deadline; ) {
    const run = ((await (await api("GET", `/api/v1/runs/${id}`)).json()) as { run: RunBody }).run;
    if (["done", "failed", "stopped", "timed_out"].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${id} did not end`);
}

beforeAll(async () => {
  redis = await startRedis("api-v1");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  tree = await mkdtemp(path.join(os.tmpdir(), "dstack-api-tree-"));
  await mkdir(path.join(tree, ".dstack"));
  await writeFile(path.join(tree, ".dstack", "workflows.yaml"), WORKFLOWS);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
  if (tree !== undefined) await rm(tree, { recursive: true, force: true });
});

describe("authentication", () => {
  it("refuses a request without the token, naming the header to send", async () => {
    const res = await fetch(`${service.url}/api/v1/runs`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: "unauthorized", message: expect.stringContaining("Authorization: Bearer") });
  });

  it("refuses a wrong token", async () => {
    const res = await fetch(`${service.url}/api/v1/runs`, { headers: { authorization: "Bearer nope" } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthorized");
  });

  it("serves the OpenAPI document without a token", async () => {
    const res = await fetch(`${service.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { openapi: string }).openapi).toMatch(/^3\./);
  });
});

describe("validation", () => {
  it("names every bad field of a run request", async () => {
    const res = await api("POST", "/api/v1/runs", { repo: "not-a-repo", run: [], code: { kind: "upload", upload: "x" } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_input");
    expect(body.message).toMatch(/^bad run request: repo: must be `owner\/name`; run: .*/);
  });

  it("refuses a body that is not JSON", async () => {
    const res = await fetch(`${service.url}/api/v1/runs`, { method: "POST", headers: { authorization: `Bearer ${service.keys.apiToken}` }, body: "{" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: "invalid_input", message: "the request body is not valid JSON" });
  });

  it("refuses an unknown workflow and names the known ones", async () => {
    const res = await api("POST", "/api/v1/runs", { repo: "acme/api", run: ["helo"], files: FILES, code: { kind: "upload", upload: await upload() } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_command");
    expect(body.message).toContain("hello");
  });

  it("refuses an upload id that was never uploaded", async () => {
    const res = await api("POST", "/api/v1/runs", { repo: "acme/api", run: ["hello"], files: FILES, code: { kind: "upload", upload: "0123456789abcdef" } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("not_found");
  });

  it("answers 409 code_unavailable for a commit when GitHub is off", async () => {
    const res = await api("POST", "/api/v1/runs", { repo: "acme/api", run: ["hello"], files: FILES, commit: "a".repeat(40), code: { kind: "github" } });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { code: string; message: string };
    expect(body).toEqual({ code: "code_unavailable", message: expect.stringContaining("GitHub is not configured") });
    const check = await api("GET", `/api/v1/repos/acme/api/commits/${"a".repeat(40)}/code`);
    expect(await check.json()).toEqual({ available: false, reason: "GitHub is not configured on this service" });
  });

  it("refuses an upload over the limit before reading it", async () => {
    // fetch refuses a content-length its body does not match: declare it on a raw request.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${service.url}/api/v1/uploads`, {
        method: "POST",
        headers: { authorization: `Bearer ${service.keys.apiToken}`, "content-length": String(200 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        });
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(status).toBe(413);
    expect((JSON.parse(body) as { message: string }).message).toContain("over the limit of 100 MB set by DSTACK_MAX_CODE_UPLOAD_BYTES");
  });

  it("refuses a bad listing filter and a bad log offset", async () => {
    expect((await api("GET", "/api/v1/runs?status=finished")).status).toBe(400);
    expect((await api("GET", "/api/v1/runs?limit=0")).status).toBe(400);
    expect((await api("GET", "/api/v1/runs/nosuch/logs?offset=-1")).status).toBe(400);
  });

  it("refuses a secret name that is not an environment variable name, and an empty value", async () => {
    const bad = await api("PUT", "/api/v1/repos/acme/api/secrets/1BAD", { value: "x" });
    expect(bad.status).toBe(400);
    // Named once: not "bad secret name: secret name: ...".
    expect(((await bad.json()) as { message: string }).message).toBe("bad secret name: must be an environment variable name (ASCII letters, digits, _; not starting with a digit)");
    expect((await api("PUT", "/api/v1/repos/acme/api/secrets/GOOD", { value: "" })).status).toBe(400);
  });

  it("answers 404 for an unknown run and 405 for a wrong method, naming the allowed ones", async () => {
    expect(await (await api("GET", "/api/v1/runs/nosuchrun")).json()).toEqual({ code: "not_found", message: 'run "nosuchrun" does not exist' });
    const wrong = await api("DELETE", "/api/v1/runs");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST, GET, HEAD");
    expect(await wrong.json()).toEqual({ code: "method_not_allowed", message: "DELETE is not allowed on /api/v1/runs; use POST, GET, HEAD" });
  });

  it("answers 400, not 500, for a malformed %-escape in the address or the session cookie", async () => {
    const bad = await api("GET", "/api/v1/runs/%E2");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: "invalid_input", message: 'the address has a malformed %-escape in "%E2"' });
    const cookie = await fetch(`${service.url}/api/v1/runs`, { headers: { cookie: "dstack_session=%E2" } });
    expect(cookie.status).toBe(401);
  });

  it("shows a browser an error page for a run link that is wrong, and keeps JSON for the API", async () => {
    const page = await api("GET", "/runs/nosuchrun", undefined, { accept: "text/html,application/xhtml+xml" });
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("<h1>Not found</h1>");
    expect(html).toContain("run &quot;nosuchrun&quot; does not exist");
    const api404 = await api("GET", "/api/v1/runs/nosuchrun", undefined, { accept: "text/html" });
    expect(await api404.json()).toEqual({ code: "not_found", message: 'run "nosuchrun" does not exist' });
    // A mistyped address gets the page too; the API's unknown paths stay JSON.
    const typo = await api("GET", "/rnus/nosuchrun", undefined, { accept: "text/html" });
    expect(typo.status).toBe(404);
    expect(await typo.text()).toContain("nothing at GET /rnus/nosuchrun");
    expect(typo.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await (await api("GET", "/api/v1/nothing", undefined, { accept: "text/html" })).json()).toEqual({ code: "not_found", message: "nothing at GET /api/v1/nothing" });
  });
});

describe("runs, logs and artifacts", () => {
  let runId = "";

  it("submits a group, dependencies first, and runs it to the end", async () => {
    const res = await api("POST", "/api/v1/runs", { repo: "acme/api", run: ["after"], files: FILES, code: { kind: "upload", upload: await upload() } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { run: RunBody; runs: RunBody[] };
    expect(body.runs.map((r) => r.workflow)).toEqual(["hello", "after"]);
    expect(body.run.workflow).toBe("after");
    runId = body.runs[0]?.id ?? "";
    expect((await waitForEnd(body.run.id)).status).toBe("done");
    const listed = (await (await api("GET", "/api/v1/runs?repo=acme/api&workflow=hello&status=done")).json()) as { runs: RunBody[] };
    expect(listed.runs.map((r) => r.id)).toEqual([runId]);
  }, 60_000);

  it("reads a log range with the offsets to continue from", async () => {
    const res = await api("GET", `/api/v1/runs/${runId}/logs?offset=7&limit=7`);
    expect(res.headers.get("x-dstack-offset")).toBe("7");
    expect(res.headers.get("x-dstack-next-offset")).toBe("14");
    const all = await (await api("GET", `/api/v1/runs/${runId}/logs`)).text();
    expect(await res.text()).toBe(all.slice(7, 14));
    expect(all).toContain("line 1\nline 2\nline 3\nline 4\nline 5\n");
  });

  it("follows as Server-Sent Events, resumes from Last-Event-ID and ends with the status", async () => {
    const all = await (await api("GET", `/api/v1/runs/${runId}/logs`)).text();
    const from = all.indexOf("line 3");
    const res = await api("GET", `/api/v1/runs/${runId}/logs?follow=true`, undefined, { accept: "text/event-stream", "last-event-id": String(from) });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = (await res.text())
      .split("\n\n")
      .filter((e) => e !== "")
      .map((e) => ({ event: /^event: (.*)$/m.exec(e)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(e)?.[1] ?? "null") as { text?: string; status?: string; offset?: number } }));
    const text = events.filter((e) => e.event === "log").map((e) => e.data.text).join("");
    expect(text).toBe(all.slice(from));
    // The run as GET /api/v1/runs/:id gives it, first: the run page's timeline and badge come from it.
    const { run } = (await (await api("GET", `/api/v1/runs/${runId}`)).json()) as { run: { transitions: unknown[] } };
    expect(events.filter((e) => e.event === "status")).toEqual([{ event: "status", data: expect.objectContaining({ id: runId, status: "done", transitions: run.transitions }) }]);
    expect(events[0]?.event).toBe("status");
    expect(events.at(-1)).toEqual({ event: "end", data: { status: "done", reason: null, offset: all.length } });
  });

  it("lists artifacts with sizes and serves one file and the whole set as tar.gz", async () => {
    const list = (await (await api("GET", `/api/v1/runs/${runId}/artifacts`)).json()) as unknown;
    expect(list).toEqual({ runId, status: "done", artifacts: [{ path: "out/a.txt", sizeBytes: 9 }], totalBytes: 9 });
    const file = await api("GET", `/api/v1/runs/${runId}/artifacts/file?path=out/a.txt`);
    expect(await file.text()).toBe("artifact\n");
    expect((await api("GET", `/api/v1/runs/${runId}/artifacts/file?path=out/none.txt`)).status).toBe(404);
    expect((await api("GET", `/api/v1/runs/${runId}/artifacts/file?path=../x`)).status).toBe(400);
    const archive = await api("GET", `/api/v1/runs/${runId}/artifacts/archive`);
    expect(archive.headers.get("content-type")).toBe("application/gzip");
    const entries: string[] = [];
    await pipeline(Readable.fromWeb(archive.body as import("node:stream/web").ReadableStream), listTar({ onReadEntry: (e) => void entries.push(`${e.path} ${e.size}`) }));
    expect(entries).toEqual(["out/a.txt 9"]);
  });

  it("shows the uploaded code on the run page with a link to download it", async () => {
    const html = await (await api("GET", `/runs/${runId}`, undefined, { accept: "text/html" })).text();
    // Plain words: Markdown backticks would show on the page as `&#x60;` characters.
    expect(html).toContain("a working tree uploaded by dstack run (no GitHub access to the commit)");
    const href = /<a href="([^"]+)">the uploaded files \(tar\.gz\)<\/a>/.exec(html)?.[1]?.replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))).replace(/&amp;/g, "&") ?? "";
    const download = await fetch(new URL(href, service.url));
    expect(download.status).toBe(200);
    const entries: string[] = [];
    await pipeline(Readable.fromWeb(download.body as import("node:stream/web").ReadableStream), listTar({ onReadEntry: (e) => void entries.push(e.path) }));
    expect(entries).toContain("./.dstack/workflows.yaml");
  });

  it("lists the run on the runs page with the run page's words for its trigger", async () => {
    const html = await (await api("GET", "/?repo=acme/api", undefined, { accept: "text/html" })).text();
    const row = new RegExp(`<tr data-run-id="${runId}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? "";
    // Not "api by api".
    expect(row).toMatch(/<td( class="wide-only")?>dstack run by the API<\/td>/);
  });

  it("refuses to stop an ended run and to tag a run that is not done", async () => {
    const stop = await api("POST", `/api/v1/runs/${runId}/stop`);
    expect(stop.status).toBe(409);
    expect(await stop.json()).toEqual({ code: "conflict", message: `run ${runId} already ended (done)` });
    const badTag = await api("POST", "/api/v1/repos/acme/api/tags", { tag: "bad tag", runId });
    expect(badTag.status).toBe(400);
  });
});
