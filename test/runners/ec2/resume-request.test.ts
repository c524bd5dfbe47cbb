import { DescribeInstancesCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand, type RunInstancesCommandInput } from "@aws-sdk/client-ec2";
import { beforeEach, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import type { Ec2Config } from "../../../src/config.js";
import { createEc2Api } from "../../../runners/ec2/ec2-api.js";
import { createEc2Backend } from "../../../runners/ec2/ec2-backend.js";
import { AGENT_ENV, EC2_CONFIG, ec2Error, workflowWith } from "./fixtures.js";

/** The RunInstances request of a run resumed after a spot interruption (`attempt` > 1), per DSTACK_EC2_RESUME_MARKET. */

const ec2 = mockClient(EC2Client);
/** RunInstances answers InsufficientInstanceCapacity to every spot request while this is set. */
let noSpotCapacity: boolean;

const key = (i: RunInstancesCommandInput) => `${i.InstanceType}/${i.InstanceMarketOptions?.MarketType ?? "on-demand"}`;

beforeEach(() => {
  ec2.reset();
  noSpotCapacity = false;
  ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: "subnet-0a", AvailabilityZone: "us-east-1a" }] });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
    if (noSpotCapacity && input.InstanceMarketOptions?.MarketType === "spot") throw ec2Error("InsufficientInstanceCapacity");
    return { Instances: [{ InstanceId: "i-0123456789abcdef0", InstanceType: input.InstanceType, State: { Name: "pending" }, Placement: { AvailabilityZone: "us-east-1a" } }] };
  });
});

async function launch(config: Partial<Ec2Config>, attempt: number, interruptible = true, gpus = 1): Promise<RunInstancesCommandInput[]> {
  const client = new EC2Client({ region: "us-east-1", credentials: { accessKeyId: "AKIATEST", secretAccessKey: "test" } });
  const backend = createEc2Backend({
    config: { ...EC2_CONFIG, subnets: ["subnet-0a"], ...config },
    serviceTag: "https://dstack.example.com",
    maxRunMinutes: 60,
    api: createEc2Api(client),
    liveSpotPrices: false,
  });
  try {
    await backend.start({ run: { id: "r-1", repo: "acme/ml", workflow: workflowWith({ gpu: { count: gpus, name: "A10G" }, interruptible }) }, agentEnv: AGENT_ENV, attempt });
  } finally {
    await backend.close();
  }
  return ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
}

const SPOT_OPTIONS = { MarketType: "spot", SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" } };

describe("EC2 backend: resuming an interrupted spot run", () => {
  it("DSTACK_EC2_RESUME_MARKET=on-demand: the first attempt asks for spot, a resumed one for on-demand", async () => {
    const [first] = await launch({ resumeMarket: "on-demand" }, 1);
    expect(first).toMatchObject({ InstanceType: "g5.xlarge", InstanceMarketOptions: SPOT_OPTIONS });
    ec2.resetHistory();
    const [resumed] = await launch({ resumeMarket: "on-demand" }, 2);
    expect(resumed?.InstanceType).toBe("g5.xlarge");
    expect(resumed?.InstanceMarketOptions).toBeUndefined();
    // Everything else is the same request: IMDSv2, terminate on shutdown, and the tags but those of the attempt.
    expect(resumed).toMatchObject({ MetadataOptions: { HttpTokens: "required" }, InstanceInitiatedShutdownBehavior: "terminate" });
    const perAttempt = new Set(["dstack:attempt", "dstack:market", "dstack:price-per-hour"]);
    const tags = (i: RunInstancesCommandInput | undefined) => (i?.TagSpecifications ?? []).map((s) => ({ ...s, Tags: (s.Tags ?? []).filter((t) => !perAttempt.has(t.Key ?? "")) }));
    expect(tags(resumed)).toEqual(tags(first));
    const tag = (i: RunInstancesCommandInput | undefined, k: string) => i?.TagSpecifications?.[0]?.Tags?.find((t) => t.Key === k)?.Value;
    expect([tag(first, "dstack:attempt"), tag(first, "dstack:market")]).toEqual(["1", "spot"]);
    expect([tag(resumed, "dstack:attempt"), tag(resumed, "dstack:market")]).toEqual(["2", "on-demand"]);
  });

  it("DSTACK_EC2_RESUME_MARKET=spot (default): a resumed attempt takes the next spot offer again", async () => {
    const calls = await launch({}, 3);
    expect(calls.map(key)).toEqual(["g5.xlarge/spot"]);
    expect(calls[0]?.InstanceMarketOptions).toEqual(SPOT_OPTIONS);
  });

  it("with no spot capacity left, a resumed attempt goes on-demand only when DSTACK_EC2_SPOT_FALLBACK allows it", async () => {
    // 4 A10Gs: three g5 sizes, so on-demand offers come within the five tried.
    noSpotCapacity = true;
    await expect(launch({}, 2, true, 4)).rejects.toThrow(/no EC2 capacity/);
    expect(ec2.commandCalls(RunInstancesCommand).every((c) => c.args[0].input.InstanceMarketOptions?.MarketType === "spot")).toBe(true);
    ec2.resetHistory();
    const calls = await launch({ spotFallback: true }, 2, true, 4);
    expect(calls.at(-1)?.InstanceMarketOptions).toBeUndefined();
    expect(calls.slice(0, -1).every((c) => c.InstanceMarketOptions?.MarketType === "spot")).toBe(true);
  });

  it("a run that never asked for spot stays on-demand whatever the attempt", async () => {
    const calls = await launch({ resumeMarket: "spot" }, 2, false);
    expect(calls.map((c) => c.InstanceMarketOptions)).toEqual([undefined]);
  });
});
