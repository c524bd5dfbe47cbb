import { DescribeInstancesCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand, type RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import type { Ec2Config } from "../../../src/config.js";
import { createEc2Api } from "../../../runners/ec2/ec2-api.js";
import { createEc2Backend } from "../../../runners/ec2/ec2-backend.js";
import type { RunnerBackend } from "../../../runners/types.js";
import type { Resources } from "../../../src/workflow/types.js";
import { AGENT_ENV, EC2_CONFIG, ec2Error, workflowWith } from "./fixtures.js";

/**
 * Crash tolerance of EC2 launches: `find` looks for the instance a dead supervisor started for the
 * run's current attempt, and RunInstances carries a client token derived from run, attempt and
 * offer, so a repeated launch gets the instance EC2 already started.
 */
const ec2 = mockClient(EC2Client);
const NOW = Date.UTC(2026, 10, 30, 8, 0, 0);
const SERVICE = "https://dstack.example.com";
const backends: RunnerBackend[] = [];

function makeBackend(config: Partial<Ec2Config> = {}): RunnerBackend {
  const client = new EC2Client({ region: "us-east-1", credentials: { accessKeyId: "AKIATEST", secretAccessKey: "test" } });
  const backend = createEc2Backend({ config: { ...EC2_CONFIG, ...config }, serviceTag: SERVICE, maxRunMinutes: 60, api: createEc2Api(client), liveSpotPrices: false, now: () => NOW });
  backends.push(backend);
  return backend;
}

const run = (resources: Partial<Resources>, id = "r-1") => ({ id, repo: "acme/ml", workflow: workflowWith(resources) });
const runInputs = () => ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);

/** What DescribeInstances answers for an instance RunInstances started with `input`, as EC2 would. */
function described(input: RunInstancesCommandInput, instanceId: string) {
  return {
    InstanceId: instanceId,
    InstanceType: input.InstanceType,
    State: { Name: "running" as const },
    Placement: { AvailabilityZone: "us-east-1b" },
    LaunchTime: new Date(NOW),
    ClientToken: input.ClientToken,
    Tags: input.TagSpecifications?.find((t) => t.ResourceType === "instance")?.Tags,
  };
}

beforeEach(() => {
  ec2.reset();
  ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: "subnet-0a", AvailabilityZone: "us-east-1a" }, { SubnetId: "subnet-0b", AvailabilityZone: "us-east-1b" }] });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => ({ Instances: [{ ...described(input, "i-0aaaaaaaaaaaaaaa1"), State: { Name: "pending" } }] }));
  ec2.on(TerminateInstancesCommand).resolves({});
});

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

describe("EC2 backend: find", () => {
  it("asks DescribeInstances for the run's pending or running instances of this service and the current attempt", async () => {
    const found = await makeBackend().find?.(run({}), 3);
    expect(found).toBeUndefined();
    const query = ec2.commandCalls(DescribeInstancesCommand).at(-1)?.args[0].input;
    expect(query).toEqual({
      MaxResults: 1000,
      Filters: [
        { Name: "tag:dstack:run-id", Values: ["r-1"] },
        { Name: "tag:dstack:service", Values: [SERVICE] },
        { Name: "tag:dstack:attempt", Values: ["3"] },
        { Name: "instance-state-name", Values: ["pending", "running"] },
      ],
    });
  });

  it("returns the machine its launch would have recorded: the same id, type, zone, market, price and launch time", async () => {
    const backend = makeBackend();
    const spot = run({ gpu: { count: 1, name: "A10G" }, interruptible: true });
    const started = await backend.start({ run: spot, agentEnv: AGENT_ENV, attempt: 2 });
    const input = runInputs()[0] as RunInstancesCommandInput;
    expect(input.TagSpecifications?.[0]?.Tags).toEqual(
      expect.arrayContaining([
        { Key: "dstack:attempt", Value: "2" },
        { Key: "dstack:market", Value: "spot" },
        { Key: "dstack:price-per-hour", Value: String(started.details.pricePerHour) },
      ]),
    );
    // A successor supervisor (a new backend in another process) finds it by its tags.
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [described(input, started.id)] }] });
    const found = await makeBackend().find?.(spot, 2);
    expect(found).toEqual(started);
    expect(found?.details).toMatchObject({ instanceType: "g5.xlarge", market: "spot", zone: "us-east-1b", launchedAt: NOW });
  });

  it("says when an adopted on-demand machine of a spot run is the DSTACK_EC2_SPOT_FALLBACK or the resume market", async () => {
    const input = { InstanceType: "g5.xlarge", ClientToken: "t", TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "dstack:market", Value: "on-demand" }, { Key: "dstack:price-per-hour", Value: "1.006" }] }] } as RunInstancesCommandInput;
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [described(input, "i-0bbbbbbbbbbbbbbb2")] }] });
    const spot = run({ gpu: { count: 1, name: "A10G" }, interruptible: true });
    expect((await makeBackend().find?.(spot, 1))?.description).toBe("g5.xlarge (1x A10G) on-demand (no spot capacity: DSTACK_EC2_SPOT_FALLBACK) in us-east-1b, i-0bbbbbbbbbbbbbbb2");
    // Attempt 2 of a spot run resumed on-demand (DSTACK_EC2_RESUME_MARKET) is no fallback.
    expect((await makeBackend({ resumeMarket: "on-demand" }).find?.(spot, 2))?.description).toBe("g5.xlarge (1x A10G) on-demand in us-east-1b, i-0bbbbbbbbbbbbbbb2");
  });
});

describe("EC2 backend: RunInstances client token", () => {
  it("is the same for the same run, attempt and offer in another process, and differs by attempt, subnet and run", async () => {
    const asked = run({ gpu: { count: 1 } });
    await makeBackend().start({ run: asked, agentEnv: AGENT_ENV });
    await makeBackend().start({ run: asked, agentEnv: { ...AGENT_ENV, DSTACK_AGENT_TOKEN: "rotated" } });
    await makeBackend().start({ run: asked, agentEnv: AGENT_ENV, attempt: 2 });
    await makeBackend({ subnets: ["subnet-0b"] }).start({ run: asked, agentEnv: AGENT_ENV });
    await makeBackend().start({ run: run({ gpu: { count: 1 } }, "r-2"), agentEnv: AGENT_ENV });
    const tokens = runInputs().map((i) => i.ClientToken ?? "");
    expect(tokens[0]).toMatch(/^r-1-a1-[0-9a-f]{16}$/);
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).toMatch(/^r-1-a2-[0-9a-f]{16}$/);
    expect(new Set(tokens).size).toBe(4);
  });

  it("stays within EC2's 64 ASCII characters for a long run id", async () => {
    await makeBackend().start({ run: run({}, "r".repeat(80)), agentEnv: AGENT_ENV });
    expect(runInputs()[0]?.ClientToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it("replaces an instance EC2 started under the token with an older agent token: terminated, launched again under the next token", async () => {
    ec2.on(RunInstancesCommand)
      .rejectsOnce(ec2Error("IdempotentParameterMismatch"))
      .callsFake((input: RunInstancesCommandInput) => ({ Instances: [described(input, "i-0ccccccccccccccc3")] }));
    // The instance the dead supervisor started under the first token.
    ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: Array<{ Name?: string }> }) =>
      input.Filters?.[0]?.Name === "client-token" ? { Reservations: [{ Instances: [{ InstanceId: "i-0ddddddddddddddd4", State: { Name: "running" } }] }] } : { Reservations: [] },
    );
    const machine = await makeBackend({ subnets: ["subnet-0a"] }).start({ run: run({}), agentEnv: AGENT_ENV });
    const [first, second] = runInputs().map((i) => i.ClientToken);
    expect(second).not.toBe(first);
    expect(second).toMatch(/^r-1-a1-[0-9a-f]{16}$/);
    const lookup = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters).find((f) => f?.[0]?.Name === "client-token");
    expect(lookup).toEqual([
      { Name: "client-token", Values: [first] },
      { Name: "instance-state-name", Values: ["pending", "running"] },
    ]);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ["i-0ddddddddddddddd4"] }]);
    expect(machine.id).toBe("i-0ccccccccccccccc3");
  });
});
