import type { Page } from "playwright-core";
import { launchBrowser, signIn } from "../test/helpers/browser.js";
import { startRedis } from "../test/helpers/redis.js";
import { seedRun } from "../test/helpers/seed-run.js";
import { startTestService } from "../test/helpers/service.js";
import { submitRun, uploadWorkflows } from "../test/helpers/upload-tree.js";
import { quantile, type Benchmark } from "./report.js";

/**
 * The run page in Debian's chromium (playwright-core): time from navigation to the first log line
 * shown for a running workflow, and the page's load with a 200 MB log (tail first: only the last
 * 256 KB is fetched; earlier parts on demand). Median of 5 each. The service runs in this process.
 */
const ROUNDS = 5;
const BIG_LOG_MB = 200;
const WORKFLOWS = `workflows:
  - name: ticks
    provider: bash
    commands:
      - for i in $(seq 1 600); do echo "tick $i"; sleep 0.1; done
`;

/** 200 MB of log lines, 1 MiB at a time, some with colours. */
function* bigLog(): Iterable<Buffer> {
  const line = "2026-11-30 08:00:00 step 123456 loss=0.123456 \u001b[32mok\u001b[0m lr=3e-4 the quick brown fox jumps over the lazy dog\n";
  const chunk = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)));
  let written = 0;
  while (written < BIG_LOG_MB * 1024 * 1024) {
    yield chunk;
    written += chunk.length;
  }
}

/** Opens the run page and returns navigation -> first log line and -> load event, in ms. */
async function openRunPage(page: Page, url: string): Promise<{ firstLineMs: number; loadMs: number }> {
  await page.goto(url, { waitUntil: "load" });
  await page.locator("#log[data-first-line=shown]").waitFor({ timeout: 60_000 });
  return page.evaluate(() => {
    const perf = (globalThis as unknown as { performance: { getEntriesByName(n: string): Array<{ startTime: number }>; getEntriesByType(t: string): Array<{ loadEventEnd: number }> } }).performance;
    const mark = perf.getEntriesByName("dstack:first-log-line")[0];
    const nav = perf.getEntriesByType("navigation")[0];
    return { firstLineMs: mark?.startTime ?? Number.NaN, loadMs: nav?.loadEventEnd ?? Number.NaN };
  });
}

const bench: Benchmark = {
  name: "web: the run page in a browser (time to first log line, 200 MB log load)",
  async run(report) {
    const redis = await startRedis("bench-web");
    const service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await signIn(page, service.url, service.keys.apiToken);
      const token = service.keys.apiToken;
      const upload = await uploadWorkflows(service.url, token, WORKFLOWS);
      const runId = await submitRun(service.url, token, { repo: "bench/web", workflow: "ticks", upload, workflowsYaml: WORKFLOWS });
      for (let i = 0; i < 300; i++) {
        const run = ((await (await fetch(`${service.url}/api/v1/runs/${runId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { run: { status: string; logBytes: number } }).run;
        if (run.status === "running" && run.logBytes > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const running: number[] = [];
      for (let i = 0; i < ROUNDS; i++) running.push((await openRunPage(page, `${service.url}/runs/${runId}`)).firstLineMs);
      report({ name: "run page, navigation -> first log line, running workflow, median", value: quantile(running, 0.5), unit: "ms", note: `${ROUNDS} loads` });
      await fetch(`${service.url}/api/v1/runs/${runId}/stop`, { method: "POST", headers: { authorization: `Bearer ${token}` } });

      const seeded = await seedRun(service, redis.prefix, { repo: "bench/web", workflow: "big-log", log: bigLog() });
      const first: number[] = [];
      const load: number[] = [];
      const earlier: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t = await openRunPage(page, `${service.url}/runs/${seeded.id}`);
        first.push(t.firstLineMs);
        load.push(t.loadMs);
        const started = Date.now();
        const before = await page.locator("#log").evaluate((el) => (el as unknown as { textContent: string }).textContent.length);
        await page.getByRole("button", { name: "Load earlier output" }).click();
        await page.waitForFunction((n) => ((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById("log").textContent.length > n), before);
        earlier.push(Date.now() - started);
      }
      const note = `${(seeded.logBytes / 1024 / 1024).toFixed(0)} MB log, ${ROUNDS} loads`;
      report({ name: "run page with a 200 MB log, navigation -> load event, median", value: quantile(load, 0.5), unit: "ms", note });
      report({ name: "run page with a 200 MB log, navigation -> last 256 KB shown, median", value: quantile(first, 0.5), unit: "ms", note });
      report({ name: "run page with a 200 MB log, 'Load earlier output' -> 256 KB more shown, median", value: quantile(earlier, 0.5), unit: "ms", note });
    } finally {
      await browser.close();
      await service.stop();
      await redis.stop();
    }
  },
};

export default bench;
