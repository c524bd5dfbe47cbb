import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { hashToken, RunStore } from "../../src/runs/run-store.js";
import { createEc2Simulator } from "../helpers/ec2-simulator.js";
import { startEc2Endpoint, type Ec2Endpoint } from "../helpers/ec2-endpoint.js";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startServiceProcess, submitRun, supervisedAt, type ServiceProcess } from "../helpers/service-process.js";

/**
 * Issue #9 on EC2: a worker killed with `kill -9` after RunInstances started the run's instance but
 * before the run recorded it (test point `launched`) leaves that instance to the worker that adopts
 * the run, which finds it (DescribeInstances by the run, service and attempt tags) instead of
 * starting a second one, and whose agent, started with the run token of that launch, finishes the
 * run. The workers are real processes reaching EC2 through the real SDK; EC2 is the EC2 Query API
 * over the EC2 simulator, whose instances boot the real user data on this machine.
 */
const OWNER = "acme";
const REPO = "ec2-faults";
const WORKFLOW = "train";
const FILES = {
  ".dstack/workflows.yaml": `workflows:
  - name: ${WORKFLOW}
    provider: bash
    commands: [echo adopted-agent-ran]
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
let sha: string;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  redis = await startRedis("ec2-crash-launched");
  client = new Redis(redis.url);
  store = new RunStore({ redis: client, prefix: redis.prefix });
  github = await startGitHubDouble();
  sha = github.addRepo({ owner: OWNER, name: REPO, files: FILES }).sha;
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-crash-"));
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-crash-instances-"));
  sim = createEc2Simulator(root);
  endpoint = await startEc2Endpoint(sim.api);
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await sim.api.terminateInstances(sim.instances.map((i) => i.instanceId));
  await endpoint.close();
  client.disconnect();
  await github.close();
  await redis.stop();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) {
      const consoles = await Promise.all(sim.instances.map((i) => readFile(path.join(root, `${i.instanceId}.console.log`), "utf8").catch(() => "")));
      throw new Error(`timed out waiting for ${what}; instance consoles:\n${consoles.join("\n---\n").slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a worker killed at `launched` on EC2: the other adopts the instance it started, one instance per run, and that agent finishes the run", async () => {
  const common = { redisUrl: redis.url, prefix: redis.prefix, dataDir, github };
  const env = {
    SERVICE_LOCK_MS: "3000",
    SERVICE_STALLED_MS: "1500",
    SERVICE_HEARTBEAT_SECONDS: "1",
    DSTACK_BACKEND: "ec2",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_EC2: endpoint.url,
    AWS_ACCESS_KEY_ID: "AKIATEST",
    AWS_SECRET_ACCESS_KEY: "test-secret",
    AWS_EC2_METADATA_DISABLED: "true",
    DSTACK_EC2_AMI: "ami-0abc",
  };
  // The web process holds the adopted agent's first request until the test sends it SIGUSR2, so the
  // run is still `provisioning` without a recorded machine when worker B takes it over. (A 10 s hold
  // could run out on a loaded machine before B, started and then adopting, got there.)
  const web = await startServiceProcess({ ...common, name: "web", role: "web", env: { ...env, SERVICE_HOLD: `job:${WORKFLOW}:usr2` } });
  processes.push(web);
  const workerA = await startServiceProcess({ ...common, name: "worker A", role: "worker", port: web.port, env: { ...env, SERVICE_HOLD: `launched:${WORKFLOW}` } });
  processes.push(workerA);

  const id = await submitRun(web.url, { repo: `${OWNER}/${REPO}`, commit: sha, files: FILES, workflow: WORKFLOW });
  await workerA.waitFor(() => workerA.held.some((h) => h.point === "launched" && h.runId === id), 30_000, "the run held after RunInstances");
  const ofRun = () => sim.instances.filter((i) => i.input.TagSpecifications?.[0]?.Tags?.some((t) => t.Key === "dstack:run-id" && t.Value === id));
  expect(ofRun()).toHaveLength(1);
  const first = ofRun()[0];
  const before = await store.get(id);
  expect({ status: before.status, machine: before.machine }).toEqual({ status: "provisioning", machine: undefined });
  const tokenHash = () => client.hget(store.key("run", id), "tokenHash");
  const launchedTokenHash = await tokenHash();

  const workerB = await startServiceProcess({ ...common, name: "worker B", role: "worker", port: web.port, env });
  processes.push(workerB);
  await workerA.kill("SIGKILL");
  expect(await workerA.exited).toBe("SIGKILL");

  await workerB.waitFor(() => supervisedAt(workerB, id), 30_000, "adoption of the run");
  const adopted = await workerB.waitFor(() => workerB.logs.find((l) => l.msg === "adopted the machine started before a crash" && l.runId === id), 20_000, "the instance adopted");
  expect(adopted.machine).toContain(first?.instanceId);
  process.kill(web.pid, "SIGUSR2");
  const run = await until("the run concluded", async () => {
    const r = await store.get(id);
    return r.concluded ? r : undefined;
  }, 45_000);

  // One instance for the run, launched once, and its agent (holding the first launch's token) ran the workflow.
  expect({ status: run.status, reason: run.reason }).toEqual({ status: "done", reason: undefined });
  expect(ofRun()).toHaveLength(1);
  expect(endpoint.runInstances).toEqual([{ clientToken: expect.stringMatching(new RegExp(`^${id}-a1-[0-9a-f]{16}$`)), instanceId: first?.instanceId }]);
  expect(run.machine).toMatchObject({ backend: "ec2", id: first?.instanceId, details: { instanceType: first?.input.InstanceType, market: "on-demand", zone: "us-east-1a" } });
  expect(await readFile(path.join(dataDir, "logs", `${id}.log`), "utf8")).toContain("adopted-agent-ran\n");
  // Adoption kept the run token of the launch (only a new launch rotates it): the one in the instance's user data.
  const userDataToken = /export DSTACK_AGENT_TOKEN='([A-Za-z0-9_-]+)'\n/.exec(first?.userData ?? "")?.[1] ?? "";
  expect(await tokenHash()).toBe(launchedTokenHash);
  expect(launchedTokenHash).toBe(hashToken(userDataToken));
}, 90_000);
