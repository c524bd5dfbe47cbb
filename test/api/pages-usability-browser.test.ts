import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Page } from "playwright-core";
import { launchBrowser, signIn, type TestBrowser } from "../helpers/browser.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * What an ML engineer meets using the pages: on a phone (390x844) the runs list keeps each run's
 * status on screen, an artifact's size stays on one line beside a long file name, and the tag field
 * checks a tag's name in the browser (its pattern is one the browser can compile) with no console errors.
 */

/** The DOM types these checks use (the tests compile without the DOM library). */
interface RangeLike {
  selectNodeContents(node: unknown): void;
  getClientRects(): Iterable<{ top: number }>;
}
interface InputLike {
  validity: { patternMismatch: boolean; valid: boolean };
}

let redis: TestRedis;
let service: TestService;
let browser: TestBrowser;
let page: Page;
/** The browser console's errors (a `pattern` the browser cannot compile is reported there and ignored). */
const consoleErrors: string[] = [];

beforeAll(async () => {
  redis = await startRedis("pages-layout-browser");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("console", (m) => void (m.type() === "error" && consoleErrors.push(m.text())));
  page.on("pageerror", (e) => void consoleErrors.push(e.message));
  await signIn(page, service.url, service.keys.apiToken);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  await redis?.stop();
});

describe("the pages as an ML engineer uses them", () => {
  it("shows each run's status on a phone without scrolling sideways", async () => {
    const run = await seedRun(service, redis.prefix, { repo: "acme/layout", workflow: "train-resnet50-imagenet", log: "ok\n", status: "failed" });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${service.url}/?repo=acme/layout`);
    const status = page.locator(`tr[data-run-id="${run.id}"] [data-field="status"]`);
    await expect(status.textContent()).resolves.toBe("failed");
    const box = await status.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    // The trigger and commit give way on the phone and come back on a wide screen.
    await expect(page.getByRole("columnheader", { name: "Commit" }).isVisible()).resolves.toBe(false);
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect(page.getByRole("columnheader", { name: "Commit" }).isVisible()).resolves.toBe(true);
  });

  it("keeps an artifact's size on one line beside a long file name", async () => {
    const long = `out/${"checkpoint-epoch-0042-".repeat(8)}.txt`;
    const run = await seedRun(service, redis.prefix, {
      repo: "acme/layout",
      workflow: "train",
      log: "ok\n",
      artifacts: [{ path: long, body: Buffer.alloc(3000, 120) }],
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${service.url}/runs/${run.id}`);
    const size = page.locator("table.artifacts td.size").last();
    await expect(size.textContent()).resolves.toBe("2.9 KB");
    // One line box: a wrapped "2.9 / KB" would give the text two client rects.
    const lines = await size.evaluate((td) => {
      const range = (globalThis as unknown as { document: { createRange(): RangeLike } }).document.createRange();
      range.selectNodeContents(td);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    });
    expect(lines).toBe(1);
  });

  it("checks a tag's name in the browser before sending it", async () => {
    const run = await seedRun(service, redis.prefix, { repo: "acme/layout", workflow: "train", log: "ok\n" });
    consoleErrors.length = 0;
    await page.goto(`${service.url}/runs/${run.id}`);
    const field = page.getByLabel("Tag", { exact: true });
    await field.fill("best model!");
    await field.press("Enter");
    await expect(field.evaluate((el) => (el as unknown as InputLike).validity.patternMismatch)).resolves.toBe(true);
    await field.fill("best-model_v1.2");
    await expect(field.evaluate((el) => (el as unknown as InputLike).validity.valid)).resolves.toBe(true);
    await field.press("Enter");
    await page.locator("#tags").getByText("best-model_v1.2").waitFor();
    expect((await service.store.get(run.id)).tags).toEqual(["best-model_v1.2"]);
    expect(consoleErrors).toEqual([]);
  });
});
