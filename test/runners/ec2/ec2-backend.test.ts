import {
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import type { Ec2Config } from "../../../src/config.js";
import { createEc2Api } from "../../../runners/ec2/ec2-api.js";
import { createEc2Backend } from "../../../runners/ec2/ec2-backend.js";
import type { RunnerBackend } from "../../../runners/types.js";
import type { Resources } from "../../../src/workflow/types.js";
import { AGENT_ENV, EC2_CONFIG, ec2Error, workflowWith } from "./fixtures.js";

const ec2 = mockClient(EC2Client);
const NOW = Date.UTC(2026, 10, 30, 8, 0, 0);

/** RunInstances answers by `type/subnet/market`: an error code, or (absent) an instance. */
let script: Record<string, string>;
let progress: string[];
let backend: RunnerBackend;

function makeBackend(config: Partial<Ec2Config> = {}): RunnerBackend {
  const client = new EC2Client({ region: "us-east-1", credentials: { accessKeyId: "AKIATEST", secretAccessKey: "test" } });
  return createEc2Backend({
    config: { ...EC2_CONFIG, ...config },
    serviceTag: "https://dstack.example.com",
    maxRunMinutes: 60,
    api: createEc2Api(client),
    capacityPollMs: 10,
    now: () => NOW,
  });
}

function start(resources: Partial<Resources>, b = backend) {
  return b.start({ run: { id: "r-1", repo: "acme/ml", workflow: workflowWith(resources) }, agentEnv: AGENT_ENV, progress: (m) => progress.push(m) });
}

const key = (i: RunInstancesCommandInput) => `${i.InstanceType}/${i.SubnetId}/${i.InstanceMarketOptions?.MarketType ?? "on-demand"}`;
const launches = () => ec2.commandCalls(RunInstancesCommand).map((c) => key(c.args[0].input));

beforeEach(() => {
  ec2.reset();
  script = {};
  progress = [];
  ec2.on(DescribeSubnetsCommand).resolves({
    Subnets: [
      { SubnetId: "subnet-0a", AvailabilityZone: "us-east-1a" },
      { SubnetId: "subnet-0b", AvailabilityZone: "us-east-1b" },
    ],
  });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
    const code = script[key(input)];
    if (code !== undefined) throw ec2Error(code);
    const zone = input.SubnetId === "subnet-0b" ? "us-east-1b" : "us-east-1a";
    return { Instances: [{ InstanceId: "i-0123456789abcdef0", InstanceType: input.InstanceType, State: { Name: "pending" }, Placement: { AvailabilityZone: zone } }] };
  });
  ec2.on(TerminateInstancesCommand).resolves({});
  backend = makeBackend();
});

afterEach(async () => {
  await backend.close();
});

describe("EC2 backend: start", () => {
  it("starts the cheapest fitting type with base64 user data, IMDSv2, terminate-on-shutdown and the dstack tags", async () => {
    const machine = await start({ gpu: { count: 1, name: "t4" } });
    const calls = ec2.commandCalls(RunInstancesCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input as RunInstancesCommandInput;
    const tags = [
      { Key: "Name", Value: "dstack acme/ml train" },
      { Key: "dstack:run-id", Value: "r-1" },
      { Key: "dstack:repo", Value: "acme/ml" },
      { Key: "dstack:service", Value: "https://dstack.example.com" },
      { Key: "dstack:attempt", Value: "1" },
      { Key: "dstack:market", Value: "on-demand" },
      { Key: "dstack:price-per-hour", Value: "0.526" },
    ];
    expect(input).toEqual({
      ImageId: "ami-0abc",
      InstanceType: "g4dn.xlarge",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: "subnet-0a",
      SecurityGroupIds: ["sg-0123"],
      IamInstanceProfile: { Name: "dstack-runner" },
      UserData: expect.any(String),
      MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1 },
      InstanceInitiatedShutdownBehavior: "terminate",
      TagSpecifications: [
        { ResourceType: "instance", Tags: tags },
        { ResourceType: "volume", Tags: tags },
      ],
      ClientToken: expect.stringMatching(/^r-1-a1-[0-9a-f]{16}$/),
    });
    const userData = Buffer.from(input.UserData ?? "", "base64").toString("utf8");
    expect(userData.startsWith("#!/bin/bash\n")).toBe(true);
    expect(userData).toContain("export DSTACK_AGENT_TOKEN='run-scoped-token-0123456789'\n");
    expect(userData).toContain("export DSTACK_AGENT_CHECK_GPUS='true'\n");
    expect(userData).toContain("export DSTACK_AGENT_URL='https://dstack.example.com'\n");
    expect(userData).toContain("DSTACK_MAX_LIFETIME_SECONDS='5400'\n");
    expect(machine).toEqual({
      backend: "ec2",
      id: "i-0123456789abcdef0",
      description: "g4dn.xlarge (1x T4) on-demand in us-east-1a, i-0123456789abcdef0",
      details: {
        instanceId: "i-0123456789abcdef0",
        instanceType: "g4dn.xlarge",
        market: "on-demand",
        zone: "us-east-1a",
        region: "us-east-1",
        pricePerHour: 0.526,
        gpuCount: 1,
        gpuName: "T4",
        launchedAt: NOW,
        tried: "",
      },
    });
    expect(progress).toEqual([]);
  });

  it("asks for a one-time spot instance for an interruptible run, capped at DSTACK_EC2_MAX_PRICE, and names the key pair and an ARN profile", async () => {
    backend = makeBackend({ maxPricePerHour: 2, keyPair: "debug", instanceProfile: "arn:aws:iam::123456789012:instance-profile/dstack", subnets: [], securityGroups: [] });
    const machine = await start({ gpu: { count: 1, name: "A10G" }, interruptible: true });
    const input = ec2.commandCalls(RunInstancesCommand)[0]?.args[0].input as RunInstancesCommandInput;
    expect(input.InstanceMarketOptions).toEqual({
      MarketType: "spot",
      SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate", MaxPrice: "2" },
    });
    expect(input.KeyName).toBe("debug");
    expect(input.IamInstanceProfile).toEqual({ Arn: "arn:aws:iam::123456789012:instance-profile/dstack" });
    expect(input.SubnetId).toBeUndefined();
    expect(input.SecurityGroupIds).toBeUndefined();
    expect(ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(0);
    expect(machine.details.market).toBe("spot");
    expect(machine.description).toBe("g5.xlarge (1x A10G) spot in us-east-1a, i-0123456789abcdef0");
  });

  it("prices spot runs with DescribeSpotPriceHistory: the lowest current price over the zones", async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: [
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1a", SpotPrice: "0.1500" },
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1b", SpotPrice: "0.0900" },
        // Older than the line above for the same zone: not the current price.
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1b", SpotPrice: "0.0100" },
        { InstanceType: "g4dn.xlarge", AvailabilityZone: "us-east-1a", SpotPrice: "0.3000" },
      ],
    });
    backend = makeBackend({ families: ["g4dn", "g6"] });
    const machine = await start({ gpu: { count: 1 }, interruptible: true });
    expect(machine.details).toMatchObject({ instanceType: "g6.xlarge", market: "spot", pricePerHour: 0.09 });
    const query = ec2.commandCalls(DescribeSpotPriceHistoryCommand)[0]?.args[0].input;
    expect(query?.ProductDescriptions).toEqual(["Linux/UNIX"]);
    expect(query?.InstanceTypes).toEqual(expect.arrayContaining(["g4dn.xlarge", "g6.48xlarge"]));
    expect(query?.InstanceTypes).not.toContain("p3.2xlarge");
    expect(query?.StartTime).toEqual(new Date(NOW - 6 * 3600_000));
    await start({ gpu: { count: 1 }, interruptible: true });
    expect(ec2.commandCalls(DescribeSpotPriceHistoryCommand)).toHaveLength(1);
  });

  it("takes each zone's spot price with the latest Timestamp, whatever order DescribeSpotPriceHistory lists them in", async () => {
    const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000);
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: [
        // Oldest first, as AWS's API reference once described the order.
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1b", SpotPrice: "0.0100", Timestamp: at(300) },
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1b", SpotPrice: "0.1100", Timestamp: at(20) },
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1a", SpotPrice: "0.0500", Timestamp: at(400) },
        { InstanceType: "g6.xlarge", AvailabilityZone: "us-east-1a", SpotPrice: "0.0950", Timestamp: at(5) },
      ],
    });
    backend = makeBackend({ families: ["g6"] });
    const machine = await start({ gpu: { count: 1 }, interruptible: true });
    expect(machine.details).toMatchObject({ instanceType: "g6.xlarge", market: "spot", pricePerHour: 0.095 });
  });

  it("keeps the catalogue's typical spot prices when DescribeSpotPriceHistory fails", async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(ec2Error("UnauthorizedOperation"));
    const machine = await start({ gpu: { count: 1 }, interruptible: true });
    expect(machine.details).toMatchObject({ instanceType: "g4dn.xlarge", market: "spot", pricePerHour: 0.1736 });
  });

  it("moves to the next zone on InsufficientInstanceCapacity, saying so", async () => {
    script["g4dn.xlarge/subnet-0a/on-demand"] = "InsufficientInstanceCapacity";
    const machine = await start({ gpu: { count: 1 } });
    expect(launches()).toEqual(["g4dn.xlarge/subnet-0a/on-demand", "g4dn.xlarge/subnet-0b/on-demand"]);
    expect(progress).toEqual([
      "no g4dn.xlarge on-demand capacity in us-east-1a (InsufficientInstanceCapacity), trying us-east-1b",
      "started g4dn.xlarge on-demand in us-east-1b after 1 try",
    ]);
    expect(machine.details).toMatchObject({ zone: "us-east-1b", tried: "g4dn.xlarge on-demand in us-east-1a: InsufficientInstanceCapacity" });
  });

  it("moves to the next zone when EC2 has no spare spot capacity (UnfulfillableCapacity)", async () => {
    script["g5.xlarge/subnet-0a/spot"] = "UnfulfillableCapacity";
    const machine = await start({ gpu: { count: 1, name: "A10G" }, interruptible: true });
    expect(launches()).toEqual(["g5.xlarge/subnet-0a/spot", "g5.xlarge/subnet-0b/spot"]);
    expect(progress[0]).toBe("no g5.xlarge spot capacity in us-east-1a (UnfulfillableCapacity), trying us-east-1b");
    expect(machine.details).toMatchObject({ zone: "us-east-1b", market: "spot" });
  });

  it("moves to the next type when no zone has the type (Unsupported, then no capacity)", async () => {
    script["g4dn.xlarge/subnet-0a/on-demand"] = "Unsupported";
    script["g4dn.xlarge/subnet-0b/on-demand"] = "InsufficientInstanceCapacity";
    const machine = await start({ gpu: { count: 1 } });
    expect(launches()).toEqual(["g4dn.xlarge/subnet-0a/on-demand", "g4dn.xlarge/subnet-0b/on-demand", "g4dn.2xlarge/subnet-0a/on-demand"]);
    expect(progress[1]).toBe("no g4dn.xlarge on-demand capacity in us-east-1b (InsufficientInstanceCapacity), trying g4dn.2xlarge on-demand in us-east-1a");
    expect(machine.details.instanceType).toBe("g4dn.2xlarge");
  });

  it.each(["SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded", "VcpuLimitExceeded"])("skips the other zones of a type on %s", async (code) => {
    script["g4dn.xlarge/subnet-0a/spot"] = code;
    const machine = await start({ gpu: { count: 1, name: "T4" }, interruptible: true });
    expect(launches()).toEqual(["g4dn.xlarge/subnet-0a/spot", "g4dn.2xlarge/subnet-0a/spot"]);
    expect(progress[0]).toBe(`g4dn.xlarge spot is not available (${code}), trying g4dn.2xlarge spot in us-east-1a`);
    expect(machine.details).toMatchObject({ instanceType: "g4dn.2xlarge", market: "spot" });
  });

  it("falls back from spot to on-demand only with DSTACK_EC2_SPOT_FALLBACK, and says so", async () => {
    backend = makeBackend({ spotFallback: true, families: ["p3"] });
    for (const t of ["p3.2xlarge", "p3.8xlarge", "p3.16xlarge"]) {
      for (const s of ["subnet-0a", "subnet-0b"]) script[`${t}/${s}/spot`] = "InsufficientInstanceCapacity";
    }
    const machine = await start({ gpu: { count: 1, name: "v100" }, interruptible: true });
    expect(launches()).toEqual([
      "p3.2xlarge/subnet-0a/spot",
      "p3.2xlarge/subnet-0b/spot",
      "p3.8xlarge/subnet-0a/spot",
      "p3.8xlarge/subnet-0b/spot",
      "p3.16xlarge/subnet-0a/spot",
      "p3.16xlarge/subnet-0b/spot",
      "p3.2xlarge/subnet-0a/on-demand",
    ]);
    expect(progress).toContain(
      "no p3.16xlarge spot capacity in us-east-1b (InsufficientInstanceCapacity); no spot capacity anywhere allowed, falling back to on-demand (DSTACK_EC2_SPOT_FALLBACK), trying p3.2xlarge on-demand in us-east-1a",
    );
    expect(machine.description).toBe("p3.2xlarge (1x V100) on-demand (no spot capacity: DSTACK_EC2_SPOT_FALLBACK) in us-east-1a, i-0123456789abcdef0");
  });

  it("fails with what was asked and every attempt when nothing has capacity", async () => {
    backend = makeBackend({ families: ["p4d", "p4de"] });
    for (const t of ["p4d.24xlarge", "p4de.24xlarge"]) for (const s of ["subnet-0a", "subnet-0b"]) script[`${t}/${s}/on-demand`] = "InsufficientInstanceCapacity";
    await expect(start({ gpu: { count: 8, name: "A100" } })).rejects.toThrow(
      "no EC2 capacity for 8x A100, on-demand; tried p4d.24xlarge on-demand in us-east-1a: InsufficientInstanceCapacity; p4d.24xlarge on-demand in us-east-1b: InsufficientInstanceCapacity; p4de.24xlarge on-demand in us-east-1a: InsufficientInstanceCapacity; p4de.24xlarge on-demand in us-east-1b: InsufficientInstanceCapacity",
    );
    expect(progress).toHaveLength(3);
  });

  it("says how many types it tried of how many when the cheapest five had no capacity", async () => {
    backend = makeBackend({ subnets: ["subnet-0a"] });
    ec2.on(RunInstancesCommand).rejects(ec2Error("InsufficientInstanceCapacity"));
    await expect(start({ gpu: { count: 1 } })).rejects.toThrow(/^no EC2 capacity for 1x GPU, on-demand \(the 5 cheapest of \d+ fitting types\); tried g4dn\.xlarge on-demand in us-east-1a: InsufficientInstanceCapacity; /);
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(5);
  });

  it("stops at once on an error that another zone or type cannot fix", async () => {
    script["g4dn.xlarge/subnet-0a/on-demand"] = "UnauthorizedOperation";
    await expect(start({ gpu: { count: 1 } })).rejects.toThrow("EC2 refused to start g4dn.xlarge on-demand in us-east-1a: UnauthorizedOperation: UnauthorizedOperation (test)");
    expect(launches()).toHaveLength(1);
  });

  it("refuses, without calling EC2, what no allowed type can run", async () => {
    backend = makeBackend({ families: ["g4dn"] });
    const workflow = workflowWith({ gpu: { count: 1, name: "H100" } });
    expect(backend.check({ workflow })).toBe("nothing fits 1x H100, on-demand: no allowed instance type has a H100 GPU; there are T4");
    expect(backend.check({ workflow: workflowWith({ gpu: { count: 1, name: "T4" } }) })).toBeUndefined();
    await expect(start({ gpu: { count: 1, name: "H100" } })).rejects.toThrow("no allowed instance type has a H100 GPU");
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it("waits while DSTACK_EC2_MAX_INSTANCES instances of this service run", async () => {
    backend = makeBackend({ maxInstances: 1 });
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: "i-busy", State: { Name: "running" } }] }] })
      .resolves({ Reservations: [] });
    await start({ gpu: { count: 1 } });
    expect(progress[0]).toBe("1 instances are running, the most DSTACK_EC2_MAX_INSTANCES allows; waiting for one to end");
    const query = ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input;
    expect(query?.Filters).toEqual([
      { Name: "tag:dstack:service", Values: ["https://dstack.example.com"] },
      { Name: "instance-state-name", Values: ["pending", "running"] },
    ]);
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(1);
  });
});

describe("EC2 backend: cancellation", () => {
  it("gives up waiting for an instance slot when the launch is cancelled, starting nothing", async () => {
    backend = makeBackend({ maxInstances: 1 });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: "i-busy", State: { Name: "running" } }] }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const launch = backend.start({ run: { id: "r-1", repo: "acme/ml", workflow: workflowWith({}) }, agentEnv: AGENT_ENV, signal: controller.signal });
    await expect(launch).rejects.toThrow("the launch was cancelled while waiting for an instance slot");
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });
});

describe("EC2 backend: state and release", () => {
  const machine = { backend: "ec2", id: "i-0123456789abcdef0", description: "", details: {} };

  it("reads the instance's state: pending and running are running, anything else (or no instance) is gone", async () => {
    const names = ["pending", "running", "shutting-down", "terminated", "stopped"] as const;
    let behaviour = ec2.on(DescribeInstancesCommand);
    for (const name of names) behaviour = behaviour.resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: machine.id, State: { Name: name } }] }] });
    behaviour.resolves({ Reservations: [] });
    const states: string[] = [];
    for (let i = 0; i <= names.length; i++) states.push(await backend.state(machine));
    expect(states).toEqual(["running", "running", "gone", "gone", "gone", "gone"]);
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({ InstanceIds: [machine.id] });
    ec2.on(DescribeInstancesCommand).rejects(ec2Error("InvalidInstanceID.NotFound"));
    expect(await backend.state(machine)).toBe("gone");
  });

  it("trusts the heartbeats when EC2 cannot answer", async () => {
    ec2.on(DescribeInstancesCommand).rejectsOnce(ec2Error("RequestLimitExceeded"));
    expect(await backend.state(machine)).toBe("running");
  });

  it("terminates on release, and again without complaint", async () => {
    await backend.release(machine);
    ec2.on(TerminateInstancesCommand).rejectsOnce(ec2Error("InvalidInstanceID.NotFound"));
    await backend.release(machine);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: [machine.id] }, { InstanceIds: [machine.id] }]);
  });

  it("retries a failed terminate and leaves a lasting failure to the reconciler", async () => {
    ec2.on(TerminateInstancesCommand).rejects(ec2Error("RequestLimitExceeded"));
    await backend.release(machine);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(3);
  });
});
