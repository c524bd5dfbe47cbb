import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createEc2Simulator, submitUploadRun, useSimulatedEc2 } from "../../helpers/ec2-simulator.js";
import { startRedis, type TestRedis } from "../../helpers/redis.js";
import { startTestService, type TestService } from "../../helpers/service.js";
import type { Run } from "../../../src/runs/types.js";
import { isTerminal } from "../../../src/runs/types.js";
import { workflowWith } from "./fixtures.js";

let redis: TestRedis;
let service: TestService;
let root: string;
let sim: ReturnType<typeof createEc2Simulator>;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-sim-"));
  sim = createEc2Simulator(path.join(root, "instances"));
  useSimulatedEc2(sim.api);
  redis = await startRedis("ec2-boot");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, env: { DSTACK_BACKEND: "ec2", AWS_REGION: "us-east-1" } });
});

afterAll(async () => {
  await service.stop();
  await sim.api.terminateInstances(sim.instances.map((i) => i.instanceId));
  await redis.stop();
  await rm(root, { recursive: true, force: true });
});

async function waitForEnd(id: string, timeoutMs: number): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await service.store.get(id);
    if (isTerminal(run.status)) return run;
    if (Date.now() > deadline) {
      const consoles = await Promise.all(sim.instances.map((i) => readFile(path.join(root, "instances", `${i.instanceId}.console.log`), "utf8").catch(() => "")));
      throw new Error(`run ${id} is still ${run.status} (${run.reason ?? ""}); instance consoles:\n${consoles.join("\n---\n")}\nservice log:\n${service.logLines.slice(-30).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("EC2 boot simulation", () => {
  it("boots the real user data: the agent downloads itself from the service, runs the workflow, reports done, and the machine shuts down", async () => {
    const code = path.join(root, "code");
    await mkdir(code, { recursive: true });
    await writeFile(path.join(code, "hello.txt"), "hello from the uploaded code\n");
    const workflow = { ...workflowWith({ cpu: 2 }, "hello"), commands: ["echo hello from ec2", "cat hello.txt", "mkdir -p out && echo 42 > out/answer.txt"], artifacts: [{ path: "out", mount: false }] };
    const submitted = await submitUploadRun(service, workflow, code);
    const run = await waitForEnd(submitted.id, 45_000);
    const instance = sim.instances[0];
    // The bootstrap's own end comes after the agent's report: wait for it (the instance's console).
    await instance?.exited;
    const consoleLog = instance === undefined ? "" : await readFile(path.join(root, "instances", `${instance.instanceId}.console.log`), "utf8");
    expect({ status: run.status, reason: run.reason, console: run.status === "done" ? "" : consoleLog }).toEqual({ status: "done", reason: undefined, console: "" });

    // The real backend chose the cheapest fitting type and launched it once.
    expect(sim.instances).toHaveLength(1);
    expect(instance?.input).toMatchObject({ InstanceType: "t3.medium", MetadataOptions: { HttpTokens: "required" }, InstanceInitiatedShutdownBehavior: "terminate" });
    expect(run.machine).toMatchObject({ backend: "ec2", id: instance?.instanceId, details: { instanceType: "t3.medium", market: "on-demand" } });

    // The agent came from the service's bundle, and ran the workflow on the uploaded code.
    expect(existsSync(path.join(instance?.home ?? "", "agent", "dist", "runners", "agent", "main.js"))).toBe(true);
    expect(existsSync(path.join(instance?.home ?? "", "agent", "node_modules", "tar", "package.json"))).toBe(true);
    expect(consoleLog).toMatch(/using .*node v\d+/);
    expect(consoleLog).toContain("the agent exited with status 0");
    const log = await readFile(path.join(service.dataDir, "logs", `${run.id}.log`), "utf8");
    expect(log).toContain("hello from ec2\n");
    expect(log).toContain("hello from the uploaded code\n");
    expect(run.artifacts).toEqual([{ path: "out/answer.txt", sizeBytes: 3 }]);

    // The instance guarded itself (shutdown after the agent ended) and the service terminated it.
    expect(instance?.shutdownRequested()).toBe(true);
    await waitForTerminate(instance?.instanceId ?? "", 10_000);
  });
});

async function waitForTerminate(id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!sim.terminated.includes(id)) {
    if (Date.now() > deadline) throw new Error(`${id} was never terminated`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("EC2 reconciler after a crash", () => {
  it("terminates, at start-up, the instance of a run the restarted service does not know", async () => {
    const code = path.join(root, "code-orphan");
    await mkdir(code, { recursive: true });
    await writeFile(path.join(code, "README"), "orphan\n");
    const workflow = { ...workflowWith({}, "long"), commands: ["echo started", "sleep 120"] };
    const submitted = await submitUploadRun(service, workflow, code);
    const deadline = Date.now() + 30_000;
    while ((await service.store.get(submitted.id)).status !== "running") {
      if (Date.now() > deadline) throw new Error("the run never started");
      await new Promise((r) => setTimeout(r, 100));
    }
    const instance = sim.instances.find((i) => i.input.TagSpecifications?.[0]?.Tags?.some((t) => t.Value === submitted.id));
    expect(instance?.state).toBe("running");
    // The service dies with the run in flight and comes back with its state gone (a new Redis prefix),
    // under the same public URL, so the same dstack:service tag.
    const publicUrl = service.config.publicUrl;
    await service.stop();
    service = await startTestService({
      redisUrl: redis.url,
      prefix: `${redis.prefix}-restarted`,
      env: { DSTACK_BACKEND: "ec2", AWS_REGION: "us-east-1", DSTACK_PUBLIC_URL: publicUrl },
    });
    await waitForTerminate(instance?.instanceId ?? "", 15_000);
    const line = service.logLines.find((l) => l.includes("orphaned machine terminated"));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ instanceId: instance?.instanceId, runId: submitted.id, reason: `its run ${submitted.id} is unknown` });
    await instance?.exited;
    expect(instance?.state).toBe("terminated");
  });
});

