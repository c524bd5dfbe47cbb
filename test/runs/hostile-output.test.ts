import { stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";

/**
 * Output no log viewer expects: a 100 MB line without a newline, invalid UTF-8, ANSI escapes and
 * `\r` progress bars. The run must end `done`, the service keep every byte in the full log while
 * holding only bounded chunks in memory, and GitHub get a short, clean tail.
 */
const LINE_BYTES = 100 * 1024 * 1024;
const WORKFLOWS = `workflows:
  - name: giant-line
    provider: bash
    commands:
      - head -c ${LINE_BYTES} /dev/zero | tr '\\0' 'x'
      - echo
      - echo "after the giant line"
  - name: messy
    provider: bash
    commands:
      - |
        printf 'bad utf-8: \\xff\\xfe\\xc3(\\n'
      - |
        printf '\\033[1;31mred\\033[0m and \\033[2Kcleared\\n'
      - |
        for p in 10 50 100; do printf '\\rtraining %s%%' $p; sleep 0.05; done; echo
      - echo done
`;

let fx: PrFixture;

async function run(workflow: string) {
  await fx.comment(`/dstack run ${workflow}`);
  // 6-28 s on a CI machine; two CI runs side by side on its 2 CPUs once took over 50 s for the 100 MB line.
  return fx.github.waitFor((g) => g.checkRuns.find((c) => c.name === `dstack: ${workflow}` && c.status === "completed"), { timeoutMs: 150_000 });
}

beforeAll(async () => {
  fx = await startPrFixture({ name: "hostile-output", files: { ".dstack/workflows.yaml": WORKFLOWS } });
});

afterAll(async () => {
  await fx?.stop();
});

describe("hostile workflow output", () => {
  it("stores a 100 MB line without a newline whole, in bounded chunks, and shows GitHub a short tail", async () => {
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    try {
      const done = await run("giant-line");
      expect(done.conclusion).toBe("success");
      const text = done.output.text ?? "";
      expect(text.length).toBeLessThanOrEqual(65535);
      expect(text).toContain("after the giant line");
      const run_ = await fx.service.store.get(done.external_id ?? "");
      expect(run_.logBytes).toBeGreaterThanOrEqual(LINE_BYTES);
      expect((await stat(`${fx.service.dataDir}/logs/${run_.id}.log`)).size).toBe(run_.logBytes);
      // Redis holds a few MiB of it, not the line.
      expect(Number(await fx.service.redis.call("MEMORY", "USAGE", `${fx.redis.prefix}:log:${run_.id}`))).toBeLessThan(8 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    const grownMiB = (peakRss - rssBefore) / (1024 * 1024);
    process.stdout.write(`service (in-process) RSS growth while a 100 MB line streamed: ${grownMiB.toFixed(0)} MiB\n`);
    expect(grownMiB).toBeLessThan(200);
  }, 180_000);

  it("renders invalid UTF-8, ANSI escapes and \\r progress bars as clean text", async () => {
    const done = await run("messy");
    expect(done.conclusion).toBe("success");
    const text = done.output.text ?? "";
    expect(text).toContain("bad utf-8: \ufffd\ufffd\ufffd(");
    expect(text).toContain("red and cleared");
    expect(text).not.toContain("\x1b");
    expect(text).toContain("training 100%");
    expect(text).not.toContain("training 10%");
    expect(text).toContain("done");
    fx.github.assertNoViolations();
  });
});
