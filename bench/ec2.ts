import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { bundledCatalogue } from "../runners/ec2/catalogue.js";
import { selectOffers, type OfferRequest, type SelectOptions } from "../runners/ec2/select-offers.js";
import { isTerminal } from "../src/runs/types.js";
import type { Resources, Workflow } from "../src/workflow/types.js";
import { createEc2Simulator, submitUploadRun, useSimulatedEc2 } from "../test/helpers/ec2-simulator.js";
import { startRedis } from "../test/helpers/redis.js";
import { startTestService } from "../test/helpers/service.js";
import { quantile, type Benchmark } from "./report.js";

/**
 * The EC2 backend (issue 8's benchmark):
 * - `selectOffers` over the whole bundled catalogue, for typical requests (target < 1 ms a call);
 * - the simulated boot: the real EC2 backend over a simulated EC2 API whose instances run the real
 *   user data with bash on this machine (Node present, so no install): seconds from RunInstances to
 *   the workflow's first log line in the service, and to `done`. The instance's own boot (minutes
 *   on EC2: firmware, kernel, cloud-init) is not in it.
 */

const SELECT_ITERATIONS = 20_000;
const BOOTS = 3;

const REQUESTS: Array<{ label: string; request: OfferRequest; options?: SelectOptions }> = [
  { label: "1 GPU, any", request: { gpu: { count: 1 }, interruptible: false } },
  { label: "8x A100-80GB", request: { gpu: { count: 8, name: "A100-80GB" }, interruptible: false } },
  { label: "4 GPUs >= 24 GB, 48 vCPUs, 192 GB, spot with fallback", request: { gpu: { count: 4, memoryMiB: 24576 }, cpu: 48, memoryMiB: 196608, interruptible: true }, options: { spotFallback: true } },
  { label: "CPU only, 8 vCPUs", request: { cpu: 8, interruptible: false } },
];

function workflow(): Workflow {
  const resources: Resources = { cpu: 2, interruptible: false };
  return {
    name: "hello",
    provider: "bash",
    args: [],
    commands: ["echo hello from the simulated instance"],
    setup: [],
    env: {},
    artifacts: [],
    resources,
    dependsOn: [],
    on: {},
    source: { file: ".dstack/workflows.yaml", line: 1, column: 1 },
  };
}

const benchmark: Benchmark = {
  name: "EC2 backend: offer selection and simulated boot",
  async run(report) {
    const catalogue = bundledCatalogue();
    for (const { label, request, options } of REQUESTS) {
      const offers = selectOffers(request, catalogue, options).length;
      for (let i = 0; i < 1000; i++) selectOffers(request, catalogue, options);
      const samples: number[] = [];
      // Batches of 100 calls: one call is below the timer's useful resolution.
      for (let i = 0; i < SELECT_ITERATIONS / 100; i++) {
        const start = performance.now();
        for (let j = 0; j < 100; j++) selectOffers(request, catalogue, options);
        samples.push(((performance.now() - start) / 100) * 1000);
      }
      report({ name: `selectOffers (${label}), median`, value: quantile(samples, 0.5), unit: "µs/call", note: `${catalogue.types.length} types, ${offers} fit; target < 1000 µs` });
    }

    const root = await mkdtemp(path.join(os.tmpdir(), "dstack-bench-ec2-"));
    const redis = await startRedis("bench-ec2");
    const sim = createEc2Simulator(path.join(root, "instances"));
    useSimulatedEc2(sim.api);
    const service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, env: { DSTACK_BACKEND: "ec2", AWS_REGION: "us-east-1", LOG_LEVEL: "warn" } });
    try {
      const code = path.join(root, "code");
      await mkdir(code, { recursive: true });
      await writeFile(path.join(code, "README"), "bench\n");
      const toFirstLine: number[] = [];
      const toDone: number[] = [];
      for (let i = 0; i < BOOTS; i++) {
        const run = await submitUploadRun(service, workflow(), code);
        const logFile = path.join(service.dataDir, "logs", `${run.id}.log`);
        let firstLineAt: number | undefined;
        const deadline = Date.now() + 60_000;
        for (;;) {
          if (firstLineAt === undefined && (await readFile(logFile, "utf8").catch(() => "")).includes("hello from the simulated instance")) firstLineAt = performance.now();
          const fresh = await service.store.get(run.id);
          if (isTerminal(fresh.status)) {
            if (fresh.status !== "done") throw new Error(`the simulated run ended ${fresh.status}: ${fresh.reason ?? ""}`);
            break;
          }
          if (Date.now() > deadline) throw new Error("the simulated run did not end within 60 s");
          await new Promise((r) => setTimeout(r, 10));
        }
        const doneAt = performance.now();
        const instance = sim.instances[sim.instances.length - 1];
        if (instance === undefined) throw new Error("no instance was launched");
        toFirstLine.push(((firstLineAt ?? doneAt) - instance.launchedAt) / 1000);
        toDone.push((doneAt - instance.launchedAt) / 1000);
        await instance.exited;
      }
      report({ name: "simulated boot: RunInstances to first log line, median", value: quantile(toFirstLine, 0.5), unit: "s", note: `${BOOTS} boots; bootstrap + agent download (first one builds the bundle) + agent start + code fetch; excludes the instance's own boot` });
      report({ name: "simulated boot: RunInstances to first log line, max", value: Math.max(...toFirstLine), unit: "s" });
      report({ name: "simulated boot: RunInstances to done, median", value: quantile(toDone, 0.5), unit: "s" });
    } finally {
      await service.stop();
      await sim.api.terminateInstances(sim.instances.map((i) => i.instanceId));
      await redis.stop();
      await rm(root, { recursive: true, force: true });
    }
  },
};

export default benchmark;
