import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { runCheckpointKey } from "../../../src/artifacts/index.js";
import { render } from "../../../src/render.js";
import { describeAttempts } from "../../../src/runs/run-attempts.js";
import type { Run } from "../../../src/runs/types.js";
import { isTerminal } from "../../../src/runs/types.js";
import { createEc2Simulator, submitUploadRun, useSimulatedEc2 } from "../../helpers/ec2-simulator.js";
import { startMetadataServer, type MetadataServer } from "../../helpers/metadata-server.js";
import { startRedis, type TestRedis } from "../../helpers/redis.js";
import { startTestService, type TestService } from "../../helpers/service.js";
import { workflowWith } from "./fixtures.js";

/**
 * Spot interruption -> checkpoint -> resume, end to end on this machine: the real user data boots
 * the real agent on a simulated spot instance, a local IMDSv2 metadata service announces the
 * interruption, and the run goes on, on a second (on-demand: DSTACK_EC2_RESUME_MARKET) instance,
 * from the checkpoint the first one saved.
 */

let redis: TestRedis;
let service: TestService;
let meta: MetadataServer;
let root: string;
let sim: ReturnType<typeof createEc2Simulator>;
// The run's conclusion waits here until the test has used the agent API of the ended run: an ended
// run takes no checkpoint (409) until it is concluded, when its token stops being valid (401).
let releaseConclusion: () => void = () => undefined;
const conclusionHeld = new Promise<void>((resolve) => {
  releaseConclusion = resolve;
});

beforeAll(async () => {
  await rm(RELEASE, { force: true }); // left by a killed earlier run with this pid, it would open the counter's gate
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-spot-resume-"));
  meta = await startMetadataServer();
  // Each simulated instance gets its own metadata service, which says what market it was launched in.
  sim = createEc2Simulator(path.join(root, "instances"), {
    metadataUrl: (id, input) => meta.urlFor(id, input.InstanceMarketOptions?.MarketType === "spot" ? "spot" : "on-demand"),
  });
  useSimulatedEc2(sim.api);
  redis = await startRedis("ec2-spot-resume");
  service = await startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    env: { DSTACK_BACKEND: "ec2", AWS_REGION: "us-east-1", DSTACK_EC2_RESUME_MARKET: "on-demand" },
    overrides: { testPoint: async (point) => (point === "concluding" ? conclusionHeld : undefined) },
  });
});

afterAll(async () => {
  releaseConclusion();
  await rm(RELEASE, { force: true });
  await service.stop();
  await sim.api.terminateInstances(sim.instances.map((i) => i.instanceId));
  await meta.close();
  await redis.stop();
  await rm(root, { recursive: true, force: true });
});

/** Polls every 25 ms until `probe` returns a value; on timeout, says what the instances printed. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const consoles = await Promise.all(sim.instances.map((i) => readFile(path.join(root, "instances", `${i.instanceId}.console.log`), "utf8").catch(() => "")));
      throw new Error(`timed out waiting for ${what}; instance consoles:\n${consoles.join("\n---\n")}\nservice log:\n${service.logLines.slice(-30).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

const runLog = (run: Pick<Run, "id">) => readFile(path.join(service.dataDir, "logs", `${run.id}.log`), "utf8").catch(() => "");

// Counts to 40, one step every 0.3 s, keeping its count in ckpt/count: it goes on from a restored count.
// It replaces the file by a rename, as docs/workflows.md asks: the stop may come between `>`'s
// truncation and the write, which left an empty checkpoint once on a loaded CI machine.
// After step 20 it waits until the test has seen the checkpoint (RELEASE): the notice, polled every
// 5 s, must stop it before it finishes, which no count of steps guarantees on a loaded machine.
const RELEASE = path.join(os.tmpdir(), `dstack-spot-resume-release-${process.pid}`);
const COUNTER = `n=$(cat ckpt/count 2>/dev/null || echo 0); echo "starting from $n"; while [ "$n" -lt 40 ]; do n=$((n+1)); mkdir -p ckpt; echo "$n" > .count.tmp && mv .count.tmp ckpt/count; echo "step $n"; sleep 0.3; if [ "$n" -eq 20 ]; then while [ ! -e ${RELEASE} ]; do sleep 0.1; done; fi; done; echo "finished at $n"`;

describe("EC2 spot interruption (boot simulation)", () => {
  it("saves the checkpoint on the notice and resumes the run on a new instance from it, in the same run and log", async () => {
    const code = path.join(root, "code");
    await mkdir(code, { recursive: true });
    await writeFile(path.join(code, "README"), "spot\n");
    const workflow = { ...workflowWith({ cpu: 2, interruptible: true }, "count"), commands: [COUNTER], checkpoints: ["ckpt"] };
    const submitted = await submitUploadRun(service, workflow, code);

    // The first attempt runs on spot; a few steps in, EC2 announces the interruption.
    await until("the first steps", async () => ((await runLog(submitted)).includes("step 3\n") ? true : undefined), 45_000);
    const first = sim.instances[0];
    expect(first?.input.InstanceMarketOptions?.MarketType).toBe("spot");
    meta.interrupt(first?.instanceId ?? "");
    const noticeAt = meta.instance(first?.instanceId ?? "").notice?.at ?? 0;

    const saved = await until("the checkpoint", async () => (await service.store.get(submitted.id)).checkpoint, 30_000);
    await writeFile(RELEASE, "");
    const resumedLineAt = await until("the resumed attempt's first line", async () => ((await runLog(submitted)).split("starting from").length > 2 ? Date.now() : undefined), 45_000);
    const run = await until("the end of the run", async () => {
      const r = await service.store.get(submitted.id);
      return isTerminal(r.status) ? r : undefined;
    }, 45_000);
    const log = await runLog(run);
    expect({ status: run.status, reason: run.reason }).toEqual({ status: "done", reason: undefined });

    // The checkpoint: what the workflow had written when it was stopped, in the run's checkpoint set.
    expect(saved).toMatchObject({ attempt: 1, files: [{ path: "ckpt/count", sizeBytes: expect.any(Number) }] });
    const count = Number((await text(await service.artifacts.get(runCheckpointKey(run.id, 1, "ckpt/count")))).trim());
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThan(40);

    // Two instances: spot, then on-demand (DSTACK_EC2_RESUME_MARKET); the first one terminated.
    expect(sim.instances).toHaveLength(2);
    expect(sim.instances[1]?.input.InstanceMarketOptions).toBeUndefined();
    expect(sim.terminated).toContain(first?.instanceId);
    expect(run.machine).toMatchObject({ id: sim.instances[1]?.instanceId, details: { market: "on-demand" } });

    // One log: the first attempt, the interruption, then the second attempt going on from the checkpoint.
    const attempts = log.split("starting from ");
    expect(attempts.map((a) => a.split("\n")[0])).toEqual([expect.any(String), "0", String(count)]);
    // The resumed attempt's steps are exactly those after the checkpoint's count, in order (none from 1).
    const resumedSteps = [...(attempts[2] ?? "").matchAll(/^step (\d+)$/gm)].map((m) => Number(m[1]));
    expect(resumedSteps).toEqual(Array.from({ length: 40 - count }, (_, i) => count + 1 + i));
    expect(attempts[2]).toContain(`step ${count + 1}\n`);
    expect(log).toContain("finished at 40\n");
    expect(log).toContain("[dstack] spot interruption notice: EC2 takes the instance back at");
    expect(log).toMatch(/\[dstack\] interrupted on t3\.medium spot at \d\d:\d\d UTC; resuming in attempt 2 of at most 5, from the checkpoint of attempt 1 \(1 file\(s\)\)/);
    expect(log).toMatch(/\[dstack\] restored 1 checkpoint file\(s\), \d+ B, saved by attempt 1/);

    // The run's record and its check-run summary: both attempts.
    expect(run.attempts).toEqual([
      expect.objectContaining({ attempt: 1, instanceType: "t3.medium", market: "spot", machine: expect.stringContaining(first?.instanceId ?? "?"), checkpointFiles: 1 }),
    ]);
    const described = describeAttempts(run);
    expect(described?.note).toMatch(/^Interrupted on t3\.medium spot at \d\d:\d\d UTC, resumed on t3\.medium on-demand$/);
    const summary = render("check-run-summary", { statusLabel: "succeeded", trigger: "t", provider: "bash", resources: "r", machine: "m", commit: "c", duration: "d", runId: run.id, runUrl: "u", attempts: described });
    expect(summary).toContain(`${described?.note ?? "?"}.`);
    expect(summary).toMatch(/### Attempts\n- attempt 1: t3\.medium spot in us-east-1a, interrupted at \d\d:\d\d UTC; checkpoint saved \(1 file, \d+ B\)\n- attempt 2: t3\.medium on-demand in us-east-1a, finished\n/);

    // The agent API serves a run's own recorded checkpoint files only, and takes none once the run is over.
    const token = await service.store.rotateToken(run.id);
    const agentApi = (p: string, init: RequestInit = {}) => fetch(`${service.url}/api/agent/v1/runs/${run.id}${p}`, { ...init, headers: { authorization: `Bearer ${token}` } });
    const file = await agentApi("/checkpoint/file?path=ckpt%2Fcount");
    expect({ status: file.status, body: (await file.text()).trim() }).toEqual({ status: 200, body: String(count) });
    expect((await agentApi("/checkpoint/file?path=..%2F..%2Fartifacts%2Fx")).status).toBe(404);
    expect((await agentApi("/checkpoints?path=ckpt%2Fcount", { method: "PUT", body: "9" })).status).toBe(409);
    // Concluded: the token is no longer valid for anything.
    releaseConclusion();
    await until("the conclusion", async () => ((await service.store.get(run.id)).concluded === true ? true : undefined), 20_000);
    expect((await agentApi("/checkpoint/file?path=ckpt%2Fcount")).status).toBe(401);

    const toCheckpointS = (saved.savedAt - noticeAt) / 1000;
    const toResumedLineS = (resumedLineAt - noticeAt) / 1000;
    // The notice gives two minutes; the 5 s poll plus stopping and uploading must fit well inside.
    expect(toCheckpointS).toBeLessThan(30);
    process.stdout.write(`spot resume (simulation): notice -> checkpoint stored ${toCheckpointS.toFixed(2)} s; notice -> resumed first log line ${toResumedLineS.toFixed(2)} s\n`);
  }, 120_000);
});
