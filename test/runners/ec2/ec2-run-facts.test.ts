import { writeFileSync, chmodSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import type { CheckRun } from "../../helpers/github-double.js";
import { createEc2Simulator } from "../../helpers/ec2-simulator.js";
import { startPrFixture, type PrFixture } from "../../helpers/pr-fixture.js";
import type { Ec2Instance } from "../../../runners/ec2/ec2-api.js";
import type { Run } from "../../../src/runs/types.js";
import { ec2Error } from "./fixtures.js";

/**
 * What a user sees of an EC2 run: the check-run summary's instance facts, boot time and cost (while
 * it runs and at the end), the capacity walk published before the run starts, the PR comment's
 * total, the API's run JSON, and a machine whose GPUs fall short of the request failing clearly.
 * EC2 is the real SDK client under aws-sdk-client-mock; RunInstances "boots" the rendered user data
 * on this machine (the EC2 simulator), so the real agent downloads itself and runs the workflow.
 */

const ec2 = mockClient(EC2Client);
const ZONES: Record<string, string> = { "subnet-0a": "us-east-1a", "subnet-0b": "us-east-1b" };
/** DescribeSpotPriceHistory's answer: t3.medium is cheapest in us-east-1b. */
const T3_SPOT = 0.0125;
const T3_ON_DEMAND = 0.0416;

const WORKFLOWS = `workflows:
  - name: ondemand
    provider: bash
    commands: ["echo on demand", "sleep 3"]
    resources: {cpu: 2}
  - name: spot
    provider: bash
    commands: ["echo on spot", "sleep 3"]
    resources: {cpu: 2, interruptible: true}
  - name: a100
    provider: bash
    commands: ["echo should never run"]
    resources: {gpu: {name: A100, count: 4}}
`;

let fx: PrFixture;
let root: string;
let sim: ReturnType<typeof createEc2Simulator>;

const toSdk = (i: Ec2Instance) => ({
  InstanceId: i.instanceId,
  State: { Name: i.state },
  InstanceType: i.instanceType,
  Placement: { AvailabilityZone: i.zone },
  Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
});

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-ec2-facts-"));
  sim = createEc2Simulator(path.join(root, "instances"));
  // The instances' nvidia-smi: two A100s, whatever type was asked for.
  const fake = path.join(root, "instances", "bin", "nvidia-smi");
  writeFileSync(fake, "#!/bin/sh\nprintf '0, NVIDIA A100-SXM4-40GB, 40960\\n1, NVIDIA A100-SXM4-40GB, 40960\\n'\n");
  chmodSync(fake, 0o755);
  ec2.on(DescribeSubnetsCommand).resolves({ Subnets: Object.entries(ZONES).map(([SubnetId, AvailabilityZone]) => ({ SubnetId, AvailabilityZone })) });
  ec2.on(DescribeSpotPriceHistoryCommand).resolves({
    SpotPriceHistory: [
      { InstanceType: "t3.medium", AvailabilityZone: "us-east-1a", SpotPrice: "0.0131", ProductDescription: "Linux/UNIX" },
      { InstanceType: "t3.medium", AvailabilityZone: "us-east-1b", SpotPrice: String(T3_SPOT), ProductDescription: "Linux/UNIX" },
    ],
  });
  ec2.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => {
    // No spot capacity in the first zone: the backend must say so and try the next one.
    if (input.SubnetId === "subnet-0a" && input.InstanceMarketOptions?.MarketType === "spot") throw ec2Error("InsufficientInstanceCapacity");
    const instance = await sim.api.runInstances(input);
    return { Instances: [{ ...toSdk(instance), Placement: { AvailabilityZone: ZONES[input.SubnetId ?? ""] } }] };
  });
  ec2.on(DescribeInstancesCommand).callsFake(async (input: { InstanceIds?: string[]; Filters?: Array<{ Name?: string; Values?: string[] }> }) => {
    const tags: Record<string, string> = {};
    for (const f of input.Filters ?? []) if (f.Name?.startsWith("tag:") === true) tags[f.Name.slice(4)] = f.Values?.[0] ?? "";
    const states = input.Filters?.find((f) => f.Name === "instance-state-name")?.Values;
    const found = await sim.api.describeInstances(input.InstanceIds !== undefined ? { instanceIds: input.InstanceIds } : { tags, states });
    return { Reservations: [{ Instances: found.map(toSdk) }] };
  });
  ec2.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds?: string[] }) => {
    await sim.api.terminateInstances(input.InstanceIds ?? []);
    return {};
  });
  fx = await startPrFixture({
    name: "ec2-facts",
    files: { ".dstack/workflows.yaml": WORKFLOWS },
    service: {
      env: {
        DSTACK_BACKEND: "ec2",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIATEST",
        AWS_SECRET_ACCESS_KEY: "test-secret",
        DSTACK_EC2_SUBNETS: "subnet-0a,subnet-0b",
      },
    },
  });
});

afterAll(async () => {
  await fx?.stop();
  await sim?.api.terminateInstances(sim.instances.map((i) => i.instanceId));
  await Promise.all((sim?.instances ?? []).map((i) => i.exited));
  ec2.restore();
  await rm(root, { recursive: true, force: true });
});

const completed = (name: string) => (g: PrFixture["github"]) => g.checkRuns.find((c) => c.name === `dstack: ${name}` && c.status === "completed");

async function runOf(check: CheckRun): Promise<Run> {
  return fx.service.store.get(check.external_id);
}

/** Price x (end - launch), the way a bill reads: independent of the code under test. */
function expectedDollars(run: Run): number {
  return ((run.machine?.details.pricePerHour as number) * ((run.finishedAt ?? 0) - (run.machine?.details.launchedAt as number))) / 3_600_000;
}

function expectedCost(run: Run): string {
  const dollars = expectedDollars(run);
  const digits = dollars < 0.01 ? 1 - Math.floor(Math.log10(dollars)) : 2;
  return `$${dollars.toFixed(digits)}`;
}

describe("EC2 runs as the user sees them", () => {
  let ondemand: CheckRun;
  let spot: CheckRun;
  let a100: CheckRun;

  beforeAll(async () => {
    const sent = await fx.comment("/dstack run ondemand\n/dstack run spot\n/dstack run a100");
    expect(sent.status).toBe(202);
    ondemand = await fx.github.waitFor(completed("ondemand"), { timeoutMs: 90_000 });
    spot = await fx.github.waitFor(completed("spot"), { timeoutMs: 90_000 });
    a100 = await fx.github.waitFor(completed("a100"), { timeoutMs: 90_000 });
  }, 120_000);

  it("summarises an on-demand run: instance type, zone, market, instance id, boot time, run time and its cost", async () => {
    const run = await runOf(ondemand);
    expect({ conclusion: ondemand.conclusion, reason: run.reason }).toEqual({ conclusion: "success", reason: undefined });
    const summary = ondemand.output.summary ?? "";
    expect(summary).toContain("| Instance type | `t3.medium` |");
    expect(summary).toContain("| Zone | us-east-1a |");
    expect(summary).toContain("| Market | on-demand |");
    expect(summary).toContain(`| Instance | \`${run.machine?.id}\` |`);
    expect(run.machine?.id).toMatch(/^i-/);
    // Boot: from `provisioning` to the agent's first request, recorded in the run store.
    expect(run.provisioningAt).toBeLessThan(run.agentContactAt ?? 0);
    expect(summary).toContain(`| Boot time | ${Math.round(((run.agentContactAt ?? 0) - (run.provisioningAt ?? 0)) / 1000)}s |`);
    // Run time: from the agent's start to the end.
    expect(summary).toContain(`| Duration | ${Math.round(((run.finishedAt ?? 0) - (run.startedAt ?? 0)) / 1000)}s |`);
    expect(summary).toContain(`| Cost | ${expectedCost(run)} at $${T3_ON_DEMAND}/h |`);
    expect(summary).not.toContain("Finding a machine");
    // While it ran, the check run showed the cost so far.
    const whileRunning = fx.github.checkRunUpdates(ondemand.id).filter((u) => u.body.status === "in_progress" && String((u.body.output as { title?: string }).title).endsWith("running"));
    expect(whileRunning.map((u) => (u.body.output as { summary: string }).summary).some((s) => /\| Cost so far \| \$0\.0\d+ at \$0\.0416\/h \|/.test(s))).toBe(true);
  });

  it("publishes the capacity walk before the run starts, and summarises the spot run with what was tried and its cost", async () => {
    const run = await runOf(spot);
    expect(spot.conclusion).toBe("success");
    const note = "no t3.medium spot capacity in us-east-1a (InsufficientInstanceCapacity), trying us-east-1b";
    expect(run.provisioningNotes).toEqual([note, "started t3.medium spot in us-east-1b after 1 try"]);
    const updates = fx.github.checkRunUpdates(spot.id).filter((u) => u.method === "PATCH");
    const firstWithNote = updates.findIndex((u) => String((u.body.output as { summary?: string }).summary).includes(note));
    const firstRunning = updates.findIndex((u) => String((u.body.output as { title?: string }).title).endsWith("running"));
    expect(firstWithNote).toBeGreaterThanOrEqual(0);
    expect((updates[firstWithNote]?.body.output as { title: string }).title).toBe("spot starting");
    expect(firstWithNote).toBeLessThan(firstRunning);
    const summary = spot.output.summary ?? "";
    expect(summary).toContain("| Market | spot |");
    expect(summary).toContain("| Zone | us-east-1b |");
    expect(summary).toContain(`| Cost | ${expectedCost(run)} at $${T3_SPOT}/h |`);
    expect(summary).toContain(`### Finding a machine\n- ${note}\n- started t3.medium spot in us-east-1b after 1 try\n`);
    // The exact requests: spot in us-east-1a refused, then us-east-1b.
    const spotCalls = ec2
      .commandCalls(RunInstancesCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.InstanceMarketOptions?.MarketType === "spot")
      .map((i) => `${i.InstanceType}/${i.SubnetId}`);
    expect(spotCalls).toEqual(["t3.medium/subnet-0a", "t3.medium/subnet-0b"]);
  });

  it("puts each run's cost and the total in the PR comment", async () => {
    const runs = await Promise.all([ondemand, spot].map(runOf));
    for (const run of runs) {
      // The comment follows the check run's conclusion.
      const { body } = await fx.github.waitFor((g) => g.commentsOn(fx.owner, fx.repo, fx.pr).find((c) => c.body.includes(`run [${run.id}]`)));
      expect(body).toMatch(new RegExp(`run \\[${run.id}\\]\\([^)]*\\) in [^,]+, cost \\${expectedCost(run).replace(".", "\\.")}`));
      expect(body).toContain(`**Total cost: ${expectedCost(run)}**`);
    }
  });

  it("fails a run whose machine has fewer GPUs than asked, saying what was asked and what the instance has", async () => {
    const run = await runOf(a100);
    const message = "asked for 4x A100, the instance has 2x NVIDIA A100-SXM4-40GB (40960 MiB)";
    expect({ conclusion: a100.conclusion, status: run.status, reason: run.reason }).toEqual({ conclusion: "failure", status: "failed", reason: message });
    expect(a100.output.summary).toContain(`**failed**: ${message}`);
    expect(run.gpusSeen).toEqual([
      { name: "NVIDIA A100-SXM4-40GB", memoryMiB: 40960 },
      { name: "NVIDIA A100-SXM4-40GB", memoryMiB: 40960 },
    ]);
    expect(run.machine?.details).toMatchObject({ instanceType: "p4d.24xlarge", gpuCount: 8, gpuName: "A100" });
    const log = await fetch(`${fx.service.url}/api/v1/runs/${run.id}/logs`, { headers: { authorization: `Bearer ${fx.service.keys.apiToken}` } }).then((r) => r.text());
    expect(log).toContain(`[dstack] error: ${message}`);
    expect(log).not.toContain("should never run");
  });

  it("exposes the same facts in the API's run JSON", async () => {
    const run = await runOf(spot);
    const res = await fetch(`${fx.service.url}/api/v1/runs/${run.id}`, { headers: { authorization: `Bearer ${fx.service.keys.apiToken}` } });
    const { run: json } = (await res.json()) as { run: Record<string, unknown> & { machine: Record<string, unknown> } };
    expect(json.machine).toEqual({
      backend: "ec2",
      id: run.machine?.id,
      description: run.machine?.description,
      instanceType: "t3.medium",
      zone: "us-east-1b",
      market: "spot",
      pricePerHour: T3_SPOT,
      gpuCount: 0,
      bootMs: (run.agentContactAt ?? 0) - (run.provisioningAt ?? 0),
      costDollars: expect.any(Number),
      costFinal: true,
    });
    expect(json.machine.costDollars as number).toBeCloseTo(expectedDollars(run), 12);
    expect(json.provisioningNotes).toEqual(run.provisioningNotes);
    // And the run's page.
    const page = await fetch(`${fx.service.url}/runs/${run.id}`, { headers: { authorization: `Bearer ${fx.service.keys.apiToken}` } }).then((r) => r.text());
    expect(page).toContain('<tr><th scope="row">Instance type</th><td>t3.medium</td></tr>');
    expect(page).toContain('<tr><th scope="row">Market</th><td>spot</td></tr>');
    expect(page).toContain(`<tr><th scope="row">Instance</th><td><code>${run.machine?.id}</code></td></tr>`);
    expect(page).toMatch(/<tr><th scope="row">Boot time<\/th><td>\d+s<\/td><\/tr>/);
    expect(page).toContain(`<tr><th scope="row">Cost</th><td>${expectedCost(run)} at $${T3_SPOT}/h</td></tr>`);
    expect(page).toContain("<li>no t3.medium spot capacity in us-east-1a (InsufficientInstanceCapacity), trying us-east-1b</li>");
    // Every check-run and comment request matched GitHub's description of it.
    fx.github.assertNoViolations();
  });
});
