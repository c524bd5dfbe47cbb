import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand, type Instance, type InstanceStateName } from "@aws-sdk/client-ec2";
import { beforeEach, describe, expect, it } from "@jest/globals";
import { mockClient } from "aws-sdk-client-mock";
import { createEc2Api } from "../../../runners/ec2/ec2-api.js";
import { createEc2Backend } from "../../../runners/ec2/ec2-backend.js";
import type { RunStatus } from "../../../src/runs/types.js";
import { EC2_CONFIG, ec2Error } from "./fixtures.js";

const ec2 = mockClient(EC2Client);
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const minutesAgo = (m: number) => new Date(NOW - m * 60_000);
const SERVICE = "https://dstack.example.com";

function instance(id: string, runId: string | undefined, launchedMinutesAgo: number, state: InstanceStateName = "running"): Instance {
  const Tags = [{ Key: "dstack:service", Value: SERVICE }, ...(runId === undefined ? [] : [{ Key: "dstack:run-id", Value: runId }])];
  return { InstanceId: id, State: { Name: state }, LaunchTime: minutesAgo(launchedMinutesAgo), Tags };
}

const runs: Record<string, { status: RunStatus; machineId?: string }> = {
  "r-running": { status: "running", machineId: "i-running" },
  "r-done": { status: "done", machineId: "i-done" },
  "r-failed": { status: "failed", machineId: "i-failed" },
  "r-provisioning": { status: "provisioning" },
  "r-relaunched": { status: "running", machineId: "i-new" },
  "r-long": { status: "running", machineId: "i-long" },
};

function backend() {
  return createEc2Backend({
    config: EC2_CONFIG,
    serviceTag: SERVICE,
    maxRunMinutes: 60,
    api: createEc2Api(new EC2Client({ region: "us-east-1", credentials: { accessKeyId: "AKIATEST", secretAccessKey: "test" } })),
    now: () => NOW,
  });
}

beforeEach(() => {
  ec2.reset();
  ec2.on(TerminateInstancesCommand).resolves({});
});

describe("reconcile", () => {
  it("terminates the instances whose run is over or unknown, moved on, or past the maximum lifetime, and only those", async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance("i-running", "r-running", 20), instance("i-done", "r-done", 30)] },
        { Instances: [instance("i-failed", "r-failed", 5), instance("i-unknown", "r-gone", 50)] },
        { Instances: [instance("i-launching", "r-provisioning", 1), instance("i-old", "r-relaunched", 45), instance("i-new", "r-relaunched", 2)] },
        { Instances: [instance("i-young-stray", "r-relaunched", 3), instance("i-untagged", undefined, 10), instance("i-long", "r-long", 91)] },
      ],
    });
    const b = backend();
    const report = await b.reconcile?.({ runState: async (id) => runs[id] });
    expect(report).toEqual({
      looked: 10,
      terminated: [
        { instanceId: "i-done", runId: "r-done", reason: "its run r-done is done" },
        { instanceId: "i-failed", runId: "r-failed", reason: "its run r-failed is failed" },
        { instanceId: "i-unknown", runId: "r-gone", reason: "its run r-gone is unknown" },
        { instanceId: "i-old", runId: "r-relaunched", reason: "its run r-relaunched now runs on i-new" },
        { instanceId: "i-untagged", runId: undefined, reason: "it has no dstack:run-id tag" },
        { instanceId: "i-long", runId: "r-long", reason: "older than its maximum lifetime (90 minutes)" },
      ],
    });
    expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toEqual([
      {
        MaxResults: 1000,
        Filters: [
          { Name: "tag:dstack:service", Values: [SERVICE] },
          { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
        ],
      },
    ]);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: ["i-done", "i-failed", "i-unknown", "i-old", "i-untagged", "i-long"] },
    ]);
    await b.close();
  });

  it("follows DescribeInstances pages and terminates nothing when every instance has a live run", async () => {
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-running", "r-running", 20)] }], NextToken: "page-2" })
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-launching", "r-provisioning", 1)] }] });
    const b = backend();
    expect(await b.reconcile?.({ runState: async (id) => runs[id] })).toEqual({ looked: 2, terminated: [] });
    expect(ec2.commandCalls(DescribeInstancesCommand)[1]?.args[0].input.NextToken).toBe("page-2");
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    await b.close();
  });

  it("still terminates the others when EC2 refuses a batch for one unknown instance id", async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance("i-done", "r-done", 30), instance("i-forgotten", "r-gone", 50), instance("i-failed", "r-failed", 5)] }] });
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      if (input.InstanceIds?.includes("i-forgotten") === true) throw ec2Error("InvalidInstanceID.NotFound");
      return {};
    });
    const b = backend();
    const report = await b.reconcile?.({ runState: async (id) => runs[id] });
    expect(report?.terminated.map((t) => t.instanceId)).toEqual(["i-done", "i-forgotten", "i-failed"]);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([
      ["i-done", "i-forgotten", "i-failed"],
      ["i-done"],
      ["i-forgotten"],
      ["i-failed"],
    ]);
    await b.close();
  });

  it("terminates nothing when the run store cannot answer", async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance("i-done", "r-done", 30)] }] });
    const b = backend();
    await expect(b.reconcile?.({ runState: async () => Promise.reject(new Error("redis is down")) })).rejects.toThrow("redis is down");
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    await b.close();
  });
});
