import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { RunStore } from "../../src/runs/run-store.js";
import { createEc2Simulator } from "../helpers/ec2-simulator.js";
import { startEc2Endpoint, type Ec2Endpoint } from "../helpers/ec2-endpoint.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { API_TOKEN, startServiceProcess, submitRun, type ServiceProcess } from "../helpers/service-process.js";

/**
 * A run waiting for an EC2 instance slot (DSTACK_EC2_MAX_INSTANCES) that a user stops ends `stopped`
 * at once, without an instance booted for it once the slot frees. A graceful shutdown (SIGTERM: a
 * deploy) meanwhile cancels its launch, which is no failure of the run: it stays `provisioning`
 * without a machine for the process that adopts it. In both, no instance is started for it.
 * The service is a real process reaching EC2 through the real SDK and the EC2 Query API over the
 * simulator, whose instances boot the real user data on this machine.
 */
const OWNER = "acme";
const REPO = "ec2-shutdown";
const FILES = {
  ".dstack/workflows.yaml": `workflows:
  - name: blocker
    provider: bash
    commands: [sleep 60]
  - name: waiter
    provider: bash
    commands: [echo never]
`,
};

let redis: TestRedis;
let client: Redis;
let store: RunStore;
let github: GitHubDouble;
let endpoint: Ec2Endpoint;
let sim: ReturnType<typeof createEc2Simulator>;
let dataDir: string;
let root: string;
let service: ServiceProcess | undefined;

beforeAll(async () => {
  redis = await startRedis("ec2-shutdown-provisioning");
  client = new Redis(redis.url);
  store = new RunStore({ redis: client, prefix: redis.prefix });
  github = await startGitHubDouble();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-shutdown-"));
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-shutdown-instances-"));
  sim = createEc2Simulator(root);
  endpoint = await startEc2Endpoint(sim.api);
});

afterAll(async () => {
  await service?.kill();
  await sim.api.terminateInstances(sim.instances.map((i) => i.instanceId));
  await endpoint.close();
  client.disconnect();
  await github.close();
  await redis.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

const ENV = {
  DSTACK_BACKEND: "ec2",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "AKIATEST",
  AWS_SECRET_ACCESS_KEY: "test-secret",
  AWS_EC2_METADATA_DISABLED: "true",
  DSTACK_EC2_AMI: "ami-0abc",
  DSTACK_EC2_MAX_INSTANCES: "1",
};
let sha: string;
let blocker: string;

const submit = (workflow: string) => submitRun(service?.url ?? "", { repo: `${OWNER}/${REPO}`, commit: sha, files: FILES, workflow });
const runIdsOfInstances = () => sim.instances.map((i) => i.input.TagSpecifications?.[0]?.Tags?.find((t) => t.Key === "dstack:run-id")?.Value);

/** Submits a `waiter` run and resolves once it waits for the one instance slot the blocker holds. */
async function waitingRun(): Promise<string> {
  const id = await submit("waiter");
  await service?.waitFor(
    () => service?.logs.some((l) => l.msg === "provisioning" && l.runId === id && String(l.message).includes("DSTACK_EC2_MAX_INSTANCES")),
    30_000,
    "the waiter waiting for an instance slot",
  );
  return id;
}

test("a run stopped while it waits for an instance slot ends stopped at once, and no instance is started for it", async () => {
  sha = github.addRepo({ owner: OWNER, name: REPO, files: FILES }).sha;
  service = await startServiceProcess({ name: "service", role: "all", redisUrl: redis.url, prefix: redis.prefix, dataDir, github, env: { ...ENV, AWS_ENDPOINT_URL_EC2: endpoint.url } });
  blocker = await submit("blocker");
  await service.waitFor(() => sim.instances.length === 1, 30_000, "the blocker's instance");
  const waiter = await waitingRun();

  const res = await fetch(`${service.url}/api/v1/runs/${waiter}/stop`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` } });
  expect(res.status).toBe(202);
  const stoppedAt = Date.now();
  let run = await store.get(waiter);
  while (run.status !== "stopped" && Date.now() - stoppedAt < 10_000) {
    await new Promise((r) => setTimeout(r, 100));
    run = await store.get(waiter);
  }
  expect({ status: run.status, reason: run.reason, machine: run.machine }).toEqual({ status: "stopped", reason: "stopped through the API", machine: undefined });
  // Well before the blocker's slot frees (its workflow sleeps 60 s): the stop did not wait for it.
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  expect(runIdsOfInstances()).toEqual([blocker]);
}, 60_000);

test("SIGTERM while a run waits for an instance slot leaves it provisioning for the adopter, not failed", async () => {
  if (service === undefined) throw new Error("the service of the first test is not running");
  const waiter = await waitingRun();
  await service.kill("SIGTERM");
  expect(await service.exited).toBe("0");
  const run = await store.get(waiter);
  expect({ status: run.status, reason: run.reason, machine: run.machine }).toEqual({ status: "provisioning", reason: undefined, machine: undefined });
  // Only the blocker's instance was ever started.
  expect(runIdsOfInstances()).toEqual([blocker]);
}, 60_000);
