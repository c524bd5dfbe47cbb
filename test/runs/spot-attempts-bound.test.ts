import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { startMetadataServer, type MetadataServer } from "../helpers/metadata-server.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";

/**
 * A run whose machine keeps being taken back is resumed at most MAX_RUN_ATTEMPTS (5) times, then
 * ends `failed` saying why: it never loops. The local backend watches no metadata service unless
 * given one (here: a local IMDSv2 server that says "spot" and announces an interruption for good).
 */
const WORKFLOWS = `workflows:
  - name: doomed
    provider: bash
    commands:
      - echo "working"
      - sleep 60
    resources:
      interruptible: true
`;

let f: PrFixture;
let meta: MetadataServer;

beforeAll(async () => {
  meta = await startMetadataServer();
  const metadataUrl = meta.urlFor("local-machine", "spot");
  meta.interrupt("local-machine");
  f = await startPrFixture({
    name: "spot-attempts-bound",
    files: { ".dstack/workflows.yaml": WORKFLOWS },
    service: { overrides: { agentEnv: { DSTACK_AGENT_METADATA_URL: metadataUrl }, supervise: { publishIntervalMs: 500, pollMs: 100 } } },
  });
});

afterAll(async () => {
  await f?.stop();
  await meta?.close();
});

it("resumes an interrupted run in new attempts, at most 5, then fails it with the attempts in its check run", async () => {
  const before = f.github.checkRuns.length;
  expect((await f.comment("/dstack run doomed")).status).toBeLessThan(300);
  const created = await f.github.waitFor((g) => g.checkRuns.slice(before).find((c) => c.name === "dstack: doomed"), { timeoutMs: 20_000 });
  const done = await f.github.waitFor((g) => g.checkRun(created.id)?.status === "completed" && g.checkRun(created.id), { timeoutMs: 45_000 });
  const run = await f.service.store.get(created.external_id);

  expect(run.status).toBe("failed");
  expect(run.reason).toMatch(/^interrupted on local process \d+ .* at \d\d:\d\d UTC: the run was interrupted 5 times, the most it is resumed after$/);
  expect(run.attempts?.map((a) => [a.attempt, a.checkpointFiles])).toEqual([[1, 0], [2, 0], [3, 0], [4, 0], [5, 0]]);
  // Five agents, five machines: each attempt ran on its own.
  expect(new Set(run.attempts?.map((a) => a.machine)).size).toBe(5);

  expect(done.conclusion).toBe("failure");
  const summary = done.output.summary ?? "";
  expect(summary).toContain("### Attempts");
  expect(summary.match(/^- attempt \d: local process \d+ .*, interrupted at \d\d:\d\d UTC; no checkpoint saved$/gm)).toHaveLength(5);
  expect(summary).toMatch(/^Interrupted on local process \d+ .* at \d\d:\d\d UTC, resumed on local process/m);

  const log = done.output.text ?? "";
  expect(log).toContain("[dstack] the workflow declares no `checkpoints`: the next attempt starts from the beginning");
  expect(log).toContain("resuming in attempt 5 of at most 5, from the beginning (no checkpoint was saved)");
  expect(log).not.toContain("resuming in attempt 6");
  // The metadata service was used as EC2's is: a session token first, never a GET without one.
  expect(meta.instance("local-machine").refused).toBe(0);
}, 60_000);
