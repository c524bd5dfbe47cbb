import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * "Sign in with GitHub" in a real browser (Debian's chromium through playwright-core) against the
 * GitHub double. The browser reaches the service as `localhost` and the double as `127.0.0.1`: two
 * sites, as the service and github.com are, and the user clicks "Authorize" on the double's page, so
 * the redirect back is started by another site and the SameSite=Strict session cookie must still
 * reach the runs list. The screenshot is kept under test-output/screenshots/.
 */

const SHOTS = path.resolve("test-output", "screenshots");

let redis: TestRedis;
let double: GitHubDouble;
let service: TestService;
let browser: TestBrowser;
let page: Page;
let base: string;

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  redis = await startRedis("github-sign-in-browser");
  double = await startGitHubDouble({ oauthConsentPage: true });
  double.addRepo({ owner: "acme", name: "web", private: true });
  double.addRepo({ owner: "acme", name: "hidden", private: true });
  double.setPermission("acme", "web", "rita", "read");
  double.signInAs("rita");
  const port = await freePort();
  base = `http://localhost:${port}`;
  service = await startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    github: double,
    env: { PORT: String(port), DSTACK_PUBLIC_URL: base, GITHUB_CLIENT_ID: double.clientId, GITHUB_CLIENT_SECRET: double.clientSecret },
  });
  await seedRun(service, redis.prefix, { repo: "acme/web", workflow: "train", log: "hello\n" });
  await seedRun(service, redis.prefix, { repo: "acme/hidden", workflow: "private-work", log: "no\n" });
  browser = await launchBrowser();
  page = await browser.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  await double?.close();
  await redis?.stop();
});

describe("Sign in with GitHub in a browser", () => {
  it("clicks the button, approves at GitHub and lands on the runs list, seeing only readable repositories", async () => {
    await page.goto(`${base}/`);
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    // At "GitHub": the user approves, so the way back to the service starts on another site.
    await page.getByRole("button", { name: "Authorize dstack-app" }).click();
    // The callback (two calls to GitHub) and a meta refresh: generous for a loaded machine; quick when all is well.
    await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor({ timeout: 30_000 });
    expect(new URL(page.url()).origin).toBe(base);
    const text = await page.locator("main").innerText();
    expect(text).toContain("acme/web");
    expect(text).toContain("train");
    expect(text).not.toContain("acme/hidden");
    expect(await page.locator("header").innerText()).toContain("rita");
    await page.screenshot({ path: path.join(SHOTS, "github-sign-in-runs-list.png"), fullPage: true });
    // The session cookie the browser holds is HttpOnly and SameSite=Strict, and no script can read it.
    const cookies = await browser.context.cookies(base);
    const session = cookies.find((c) => c.name === "dstack_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate("document.cookie")).toBe("");
    double.assertNoViolations();
  });

  it("makes a CLI token with the label and expiry `dstack login` asked for, lists it, and revokes it", async () => {
    await page.goto(`${base}/settings?token-label=rita-laptop&token-expires-in=30d`);
    expect(await page.getByLabel("Label").inputValue()).toBe("rita-laptop");
    expect(await page.getByLabel("Expires in").inputValue()).toBe("30d");
    await page.getByLabel("Label").fill("ci runner");
    await page.getByLabel("Expires in").selectOption("never");
    await page.getByRole("button", { name: "Create a CLI token" }).click();
    const command = page.locator("#cli-token-command");
    await command.waitFor({ state: "visible" });
    expect(await command.innerText()).toMatch(new RegExp(`^dstack config --url ${base} --token dstack_u_[A-Za-z0-9_-]{43}$`));
    expect(await page.locator("#settings-status").innerText()).toMatch(/^CLI token [0-9a-f]{12} \(ci runner\) created; it does not expire\. Copy it now/);
    await page.reload();
    const row = page.locator("#cli-tokens tbody tr", { hasText: "ci runner" });
    expect((await row.innerText()).split("\t").map((c) => c.trim())).toEqual([expect.stringMatching(/^[0-9a-f]{12}$/), "ci runner", expect.stringMatching(/ UTC$/), "no expiry", "never", "Revoke"]);
    await page.screenshot({ path: path.join(SHOTS, "settings-cli-tokens.png"), fullPage: true });
    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: /^Revoke CLI token/ }).click();
    await page.waitForLoadState("load");
    await page.locator("#cli-tokens tbody tr", { hasText: "No CLI tokens yet." }).waitFor({ timeout: 30_000 });
  });
});
