import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Page, Response } from "playwright-core";
import { launchBrowser, signIn, type TestBrowser } from "../helpers/browser.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { LogStore } from "../../src/runs/log-store.js";
import { formatDuration } from "../../src/runs/run-view.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { submitRun, uploadWorkflows } from "../helpers/upload-tree.js";

/**
 * The pages in a real browser (Debian's chromium through playwright-core): sign in, watch a run's
 * log arrive live, stop a run, download an artifact, add and delete a secret. Screenshots are kept
 * under test-output/screenshots/ for a person to look at.
 */

const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
/**
 * Workflows that wait at a point until the test creates a file: what a page shows in a phase is
 * read while the run is surely in it, however slowly a loaded machine gets there (the fixed sleeps
 * of 2-6 s these tests had could run out before a loaded machine had opened and read the pages).
 * `ticks` waits after "tick 2" (its re-run too, once the file is removed again); `slow-dep` before
 * it ends; `after-dep` between "started" and "finished".
 */
const RELEASE = Object.fromEntries(
  (["ticks", "slow-dep", "after-dep"] as const).map((name) => [name, path.join(os.tmpdir(), `dstack-pages-browser-${process.pid}-${name}`)]),
) as Record<"ticks" | "slow-dep" | "after-dep", string>;
const waitForFile = (file: string) => `while [ ! -e ${file} ]; do sleep 0.1; done`;
const release = (name: keyof typeof RELEASE) => writeFile(RELEASE[name], "");
const WORKFLOWS = `workflows:
  - name: ticks
    provider: bash
    commands:
      - for i in 1 2; do echo "tick $i"; sleep 0.7; done
      - ${waitForFile(RELEASE.ticks)}
      - for i in 3 4 5 6 7 8; do echo "tick $i"; sleep 0.7; done
      - printf '\\033[31mred line\\033[0m <script>alert(1)</script> "><img src=x onerror=alert(1)>\\n'
      - mkdir -p out/img && echo "the result" > out/result.txt && echo '<b>not bold</b>' > out/notes.txt && echo ${PNG_1PX} | base64 -d > out/img/pixel.png
    artifacts: [out]
  - name: forever
    provider: bash
    commands:
      - while true; do echo alive; sleep 0.5; done
  - name: slow-dep
    provider: bash
    commands:
      - ${waitForFile(RELEASE["slow-dep"])}
  - name: after-dep
    provider: bash
    depends-on: [slow-dep]
    commands:
      - echo started; ${waitForFile(RELEASE["after-dep"])}; echo finished
`;
const SHOTS = path.resolve("test-output", "screenshots");

let redis: TestRedis;
let service: TestService;
let browser: TestBrowser;
let page: Page;
let upload: string;
/** The `ticks` run the log test watched; later tests look at its artifacts and re-run it. */
let ticksId: string;
/** Every text response the browser got, for the secret-value check. */
const responses: Array<{ url: string; body: string }> = [];
const pendingBodies: Array<Promise<void>> = [];

const run = (workflow: string) => submitRun(service.url, service.keys.apiToken, { repo: "acme/web", workflow, upload, workflowsYaml: WORKFLOWS });
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

function record(res: Response): void {
  const type = res.headers()["content-type"] ?? "";
  if (type.includes("event-stream") || !/text|json|javascript/.test(type)) return;
  pendingBodies.push(
    res.text().then(
      (body) => void responses.push({ url: res.url(), body }),
      // A body the page navigated away from before it arrived: nothing to check.
      () => undefined,
    ),
  );
}

/** A locator text filter for exactly `text` (a plain string matches any text containing it). */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);

async function apiJson<T>(p: string): Promise<T> {
  return (await (await fetch(`${service.url}${p}`, { headers: { authorization: `Bearer ${service.keys.apiToken}` } })).json()) as T;
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  for (const file of Object.values(RELEASE)) await rm(file, { force: true });
  redis = await startRedis("pages-browser");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  upload = await uploadWorkflows(service.url, service.keys.apiToken, WORKFLOWS);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("response", record);
}, 60_000);

afterAll(async () => {
  // Lets go any run a failed test left waiting, so no workflow polls for its file after the service is gone.
  for (const name of Object.keys(RELEASE) as Array<keyof typeof RELEASE>) await release(name);
  await browser?.close();
  await service?.stop();
  await redis?.stop();
  for (const file of Object.values(RELEASE)) await rm(file, { force: true });
});

describe("the web pages in a browser", () => {
  it("signs in with the API token", async () => {
    await page.goto(`${service.url}/runs/nothing`);
    expect(page.url()).toContain("/login?next=");
    await shot("01-sign-in");
    await signIn(page, service.url, service.keys.apiToken);
    expect(await page.context().cookies()).toEqual([expect.objectContaining({ name: "dstack_session", httpOnly: true, sameSite: "Strict" })]);
  });

  it("shows a running workflow's log as it is written, colours and hostile text rendered safely", async () => {
    ticksId = await run("ticks");
    await page.goto(`${service.url}/runs/${ticksId}`);
    const log = page.locator("#log");
    await log.getByText("tick 2").waitFor({ timeout: 30_000 });
    // Lines written after the page loaded arrive through the live stream, without a reload.
    const before = await log.innerText();
    expect(before).not.toContain("tick 8");
    await release("ticks");
    await log.getByText("tick 8").waitFor({ timeout: 30_000 });
    await page.locator("#run-status", { hasText: "done" }).waitFor({ timeout: 30_000 });
    // Its re-run (below) waits after "tick 2" until it is stopped: it is surely running when the list is read.
    await rm(RELEASE.ticks);
    expect(await log.innerText()).toContain(`red line <script>alert(1)</script> "><img src=x onerror=alert(1)>`);
    expect(await log.locator("img, script").count()).toBe(0);
    expect(await log.locator("span.fg-1", { hasText: "red line" }).count()).toBe(1);
    const [logFile] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: /Download full log/ }).click()]);
    expect(await readFile(await logFile.path(), "utf8")).toMatch(/^tick 1\n(.|\n)*tick 8\n/);
    await page.getByRole("searchbox", { name: "Search the log" }).fill("TICK 5");
    await page.getByRole("button", { name: "Find next" }).click();
    await page.locator("#log-note", { hasText: "Match 1 of 1." }).waitFor();
    // A match across a colour change: "red line" is a span of its own, the text after it is not.
    await page.getByRole("searchbox", { name: "Search the log" }).fill("LINE <script>");
    await page.getByRole("button", { name: "Find next" }).click();
    await expect(page.evaluate(() => String((globalThis as unknown as { getSelection(): unknown }).getSelection()))).resolves.toBe("line <script>");
    expect(await page.locator("#log-note").innerText()).toBe("Match 1 of 1.");
    await shot("02-run-log");
  });

  it("loads a long log's tail first and the earlier parts on demand, every line once", async () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `line ${String(i).padStart(6, "0")} ${"é".repeat(i % 7)}\n`);
    const big = await seedRun(service, redis.prefix, { repo: "acme/big", workflow: "big", log: lines.join("") });
    await page.goto(`${service.url}/runs/${big.id}`);
    await page.locator("#log[data-first-line=shown]").waitFor();
    await page.locator("#log-note", { hasText: "Showing the end of the log" }).waitFor();
    expect(await page.locator("#log").innerText()).not.toContain("line 000000");
    const earlier = page.getByRole("button", { name: "Load earlier output" });
    for (let i = 0; i < 10 && (await earlier.isVisible()); i++) {
      await earlier.click();
      await earlier.and(page.locator(":enabled")).or(page.locator("#log-earlier[hidden]")).waitFor({ state: "attached" });
    }
    expect(await page.locator("#log-note").innerText()).toBe("");
    await expect(earlier.isVisible()).resolves.toBe(false);
    const shown = (await page.locator("#log").innerText()).split("\n").filter((l) => l !== "");
    expect(shown).toEqual(lines.map((l) => l.slice(0, -1)));
  });

  it("shows a `\\r` progress bar as a terminal does: its last state, in its colour", async () => {
    const bar = (percent: number) => `\u001b[32mtrain ${percent}%\u001b[0m`;
    const progress = await seedRun(service, redis.prefix, { repo: "acme/progress", workflow: "progress", log: `epoch 1\n${[0, 50, 100].map(bar).join("\r")}\nsaved\r\n` });
    await page.goto(`${service.url}/runs/${progress.id}`);
    await page.locator("#log[data-first-line=shown]").waitFor();
    expect((await page.locator("#log").innerText()).split("\n").filter((l) => l !== "")).toEqual(["epoch 1", "train 100%", "saved"]);
    expect(await page.locator("#log span.fg-2", { hasText: "train" }).allInnerTexts()).toEqual(["train 100%"]);
  });

  it("drops the oldest live output from the view when a running workflow floods it", async () => {
    const flood = await seedRun(service, redis.prefix, { repo: "acme/big", workflow: "flood", log: "start\n", status: "running" });
    await page.goto(`${service.url}/runs/${flood.id}`);
    await page.locator("#log[data-first-line=shown]").waitFor();
    const logs = new LogStore({ redis: service.redis, prefix: redis.prefix, dir: path.join(service.config.dataDir, "logs") });
    const chunk = Buffer.from(`${"x".repeat(1023)}\n`.repeat(1024));
    let offset = flood.logBytes;
    for (let i = 0; i < 6; i++) {
      await logs.append(flood.id, offset, chunk);
      offset += chunk.length;
      await service.store.addLogBytes(flood.id, chunk.length);
    }
    await logs.append(flood.id, offset, Buffer.from("the last line\n"));
    await service.store.addLogBytes(flood.id, 14);
    await logs.close();
    await page.locator("#log-note", { hasText: "Older output was dropped" }).waitFor({ timeout: 30_000 });
    await page.locator("#log").getByText("the last line").waitFor({ timeout: 30_000 });
    const shown = await page.locator("#log").evaluate((el) => (el as unknown as { textContent: string }).textContent.length);
    expect(shown).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(shown).toBeGreaterThan(2 * 1024 * 1024);
  });

  it("downloads an artifact and previews an image artifact", async () => {
    await page.goto(`${service.url}/runs/${ticksId}`);
    const link = page.getByRole("link", { name: "result.txt" });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("result.txt");
    expect(await readFile(await download.path(), "utf8")).toBe("the result\n");
    const img = page.getByRole("img", { name: "out/img/pixel.png" });
    await img.waitFor();
    await expect(img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).resolves.toBe(1);
    await page.getByText("Show out/notes.txt").click();
    const preview = page.locator("details.text-preview", { hasText: "out/notes.txt" }).locator("pre");
    await preview.getByText("not bold").waitFor();
    expect(await preview.innerText()).toBe("<b>not bold</b>\n");
    expect(await preview.locator("b").count()).toBe(0);
    await shot("03-artifacts");
  });

  it("tags a finished run and runs it again with the Re-run button", async () => {
    const first = page.url();
    await page.getByLabel("Tag").fill("v1");
    await page.getByRole("button", { name: "Add tag" }).click();
    await page.locator("#tags .tag", { hasText: "v1" }).waitFor();
    await page.getByRole("button", { name: "Remove tag v1" }).click();
    await page.locator("#tags", { hasText: "none" }).waitFor();
    await page.getByLabel("Tag").fill("v1");
    await page.getByRole("button", { name: "Add tag" }).click();
    await page.locator("#tags .tag", { hasText: "v1" }).waitFor();
    await page.getByRole("button", { name: "Re-run" }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/runs/") && u.toString() !== first);
    await page.locator("#log").getByText("tick 1").waitFor({ timeout: 30_000 });
    const again = page.url().split("/runs/")[1] ?? "";
    const rerun = await apiJson<{ run: { trigger: { kind: string }; workflow: string } }>(`/api/v1/runs/${again}`);
    expect(rerun.run).toMatchObject({ workflow: "ticks", trigger: { kind: "rerun" } });
    // The runs list follows an active run's status without a reload.
    await page.goto(`${service.url}/?repo=acme/web`);
    const status = page.locator(`tr[data-run-id="${again}"] [data-field=status]`);
    expect(await status.innerText()).toBe("running");
    await fetch(`${service.url}/api/v1/runs/${again}/stop`, { method: "POST", headers: { authorization: `Bearer ${service.keys.apiToken}` } });
    await page.locator(`tr[data-run-id="${again}"] [data-field=status]`, { hasText: "stopped" }).waitFor({ timeout: 30_000 });
  });

  it("stops a running workflow with the Stop button", async () => {
    const id = await run("forever");
    await page.goto(`${service.url}/runs/${id}`);
    await page.locator("#log").getByText("alive").first().waitFor({ timeout: 30_000 });
    // Only a done run can be tagged: the form is there (hidden) but not shown.
    await expect(page.locator("#tag-form").isVisible()).resolves.toBe(false);
    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator("#run-status", { hasText: "stopped" }).waitFor({ timeout: 30_000 });
    await expect(page.locator("#tag-form").isVisible()).resolves.toBe(false);
    expect((await apiJson<{ run: { status: string } }>(`/api/v1/runs/${id}`)).run.status).toBe("stopped");
    await shot("04-stopped");
  });

  it("follows a run through its states on its page and in the runs list, without a reload", async () => {
    // `after-dep` waits in `submitted` while `slow-dep` runs (until released), so both pages open before anything moves.
    const id = await submitRun(service.url, service.keys.apiToken, { repo: "acme/live", workflow: "after-dep", upload, workflowsYaml: WORKFLOWS });
    const list = await browser.context.newPage();
    try {
      await list.goto(`${service.url}/?repo=acme/live`);
      await page.goto(`${service.url}/runs/${id}`);
      const labels = page.locator("#timeline .t-label");
      expect(await labels.allInnerTexts()).toEqual(["submitted (now)"]);
      expect(await page.locator("#run-status").innerText()).toBe("submitted");
      expect(await page.locator("#run-live-facts").innerText()).toContain("not yet assigned");
      await page.getByRole("button", { name: "Stop" }).waitFor();
      // A reload would lose this mark.
      await page.locator("#main").evaluate((el) => (el as unknown as { setAttribute(n: string, v: string): void }).setAttribute("data-probe", "kept"));
      await release("slow-dep");

      // A later state while the run is active (it waits in `running` until released): the timeline grows and the badge follows.
      await page.locator("#timeline .t-label", { hasText: /^(provisioning|running|uploading) \(now\)$/ }).waitFor({ timeout: 30_000 });
      expect(await page.locator("#timeline li").count()).toBeGreaterThan(1);
      expect(await page.locator("#run-status").innerText()).toMatch(/^(provisioning|running|uploading|done)$/);
      await page.locator("#run-live-facts", { hasText: "local process" }).waitFor({ timeout: 30_000 });
      await release("after-dep");

      await page.locator("#run-status", { hasText: "done" }).waitFor({ timeout: 30_000 });
      const { run } = await apiJson<{ run: { status: string; durationMs: number; transitions: Array<{ status: string; at: string }> } }>(`/api/v1/runs/${id}`);
      expect(run.transitions.map((t) => t.status)).toEqual(expect.arrayContaining(["submitted", "provisioning", "running", "done"]));
      // Each state with its time, as the server renders them, the last without "(now)".
      const entries = page.locator("#timeline li");
      await entries.nth(run.transitions.length - 1).locator(".t-label", { hasText: /^done$/ }).waitFor();
      expect(await entries.allInnerTexts()).toEqual(run.transitions.map((t) => `${t.status} ${t.at.slice(0, 19).replace("T", " ")} UTC`));
      await page.locator("#run-duration", { hasText: exactly(formatDuration(run.durationMs)) }).waitFor();
      expect(await page.getByRole("button", { name: "Stop" }).isVisible()).toBe(false);
      expect(await page.getByRole("button", { name: "Re-run" }).isVisible()).toBe(true);
      await page.locator("#log-note", { hasText: "The run ended: done." }).waitFor();
      await page.locator("#log").getByText("finished").waitFor();
      expect(await page.getByRole("link", { name: /Download full log/ }).innerText()).not.toContain("(0 B)");
      expect(await page.title()).toMatch(/— done$/);
      expect(await page.locator("#main").getAttribute("data-probe")).toBe("kept");
      await shot("08-run-followed");

      // The list, open all along, shows both runs' final statuses and durations.
      const { runs } = await apiJson<{ runs: Array<{ id: string; durationMs: number }> }>("/api/v1/runs?repo=acme/live");
      expect(runs).toHaveLength(2);
      for (const r of runs) {
        const row = list.locator(`tr[data-run-id="${r.id}"]`);
        await row.locator("[data-field=status]", { hasText: "done" }).waitFor({ timeout: 30_000 });
        await row.locator("[data-field=duration]", { hasText: exactly(formatDuration(r.durationMs)) }).waitFor();
      }
    } finally {
      await list.close();
    }
  });

  it("lists the runs with their statuses", async () => {
    await page.goto(`${service.url}/?repo=acme/web`);
    const rows = page.locator("#runs tbody tr");
    expect(await rows.count()).toBe(3);
    const statuses = await rows.locator("[data-field=status]").allInnerTexts();
    expect(statuses).toEqual(["stopped", "stopped", "done"]);
    expect(await rows.nth(2).locator(".tag").allInnerTexts()).toEqual(["v1"]);
    await shot("05-runs-list");
    // On a phone, in dark mode: nothing wider than the screen but the scrollable tables.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.reload();
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot("05-runs-list-phone-dark");
    await page.goto(page.url().replace(/\/\?.*$/, `/runs/${(await rows.nth(2).getAttribute("data-run-id")) ?? ""}`));
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot("05-run-phone-dark");
    // A full 40-character commit and a workflow name with no space in 60 characters break rather than widen the page.
    const long = await seedRun(service, redis.prefix, { repo: "acme/phone", workflow: `train_${"x".repeat(60)}`, log: "ok\n" });
    await page.goto(`${service.url}/runs/${long.id}`);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot("05-run-long-name-phone-dark");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: "light" });
  });

  it("adds and deletes a secret whose value never appears in a page or response", async () => {
    const value = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    await page.goto(`${service.url}/repos/acme/web/settings`);
    await page.getByLabel("Name").fill("HF_TOKEN");
    await page.getByLabel("Value").fill(value);
    await page.getByRole("button", { name: "Save secret" }).click();
    await page.locator("#secrets tr[data-secret=HF_TOKEN]").waitFor();
    await shot("06-secret-added");
    for (const p of ["/repos/acme/web/settings", "/", "/?repo=acme/web"]) await page.goto(`${service.url}${p}`);
    const listed = await apiJson<{ secrets: Array<{ name: string }> }>("/api/v1/repos/acme/web/secrets");
    expect(listed.secrets.map((s) => s.name)).toEqual(["HF_TOKEN"]);
    expect(JSON.stringify(listed)).not.toContain(value);
    await page.goto(`${service.url}/repos/acme/web/settings`);
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Delete secret HF_TOKEN" }).click();
    await page.locator("#secrets tr[data-secret=HF_TOKEN]").waitFor({ state: "detached" });
    await shot("07-secret-deleted");
    await Promise.all(pendingBodies);
    expect(responses.length).toBeGreaterThan(10);
    expect(responses.filter((r) => r.body.includes(value)).map((r) => r.url)).toEqual([]);
    expect(await page.content()).not.toContain(value);
  });
});
