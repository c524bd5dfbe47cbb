import {
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2ClientConfig,
  type Filter,
  type _InstanceType,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import type { Ec2Config } from "../../src/config.js";

export type { RunInstancesCommandInput } from "@aws-sdk/client-ec2";

/** An instance as the backend and the reconciler see it. */
export interface Ec2Instance {
  instanceId: string;
  /** EC2's state name: pending, running, shutting-down, terminated, stopping, stopped. */
  state: string;
  instanceType?: string;
  zone?: string;
  launchTime?: Date;
  tags: Record<string, string>;
}

/**
 * The EC2 calls the backend makes, and nothing else: the narrow interface tests drive (through
 * `aws-sdk-client-mock` on the real client, or a fake for the boot simulation).
 */
export interface Ec2Api {
  runInstances(input: RunInstancesCommandInput): Promise<Ec2Instance>;
  /**
   * Instances by id, or (no ids) those carrying every tag in `tags` (and launched with `clientToken`,
   * when given); only live states unless `states` says otherwise.
   */
  describeInstances(query: { instanceIds?: string[]; tags?: Record<string, string>; clientToken?: string; states?: string[] }): Promise<Ec2Instance[]>;
  terminateInstances(instanceIds: string[]): Promise<void>;
  /** Availability zone of each subnet. */
  subnetZones(subnetIds: string[]): Promise<Record<string, string>>;
  /** Linux spot prices per instance type and zone, each with when it took effect (DescribeSpotPriceHistory since `since`). */
  spotPrices(instanceTypes: string[], since: Date): Promise<Array<{ instanceType: string; zone: string; pricePerHour: number; at?: Date }>>;
  close(): void;
}

/** States of an instance that still costs money or will. */
export const LIVE_STATES = ["pending", "running", "stopping", "stopped"];

/** The SDK client from the service's configuration (region, endpoint, static credentials when given). */
export function createEc2Client(config: Ec2Config): EC2Client {
  const options: EC2ClientConfig = { region: config.region };
  if (config.endpoint !== undefined) options.endpoint = config.endpoint;
  if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
    options.credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
  }
  return new EC2Client(options);
}

/** The real `Ec2Api` over an SDK client (which it closes). */
export function createEc2Api(client: EC2Client): Ec2Api {
  return {
    async runInstances(input) {
      const out = await client.send(new RunInstancesCommand(input));
      const instance = out.Instances?.[0];
      if (instance?.InstanceId === undefined) throw new Error("RunInstances answered without an instance");
      return toInstance(instance);
    },
    async describeInstances(query) {
      const filters: Filter[] = Object.entries(query.tags ?? {}).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] }));
      if (query.clientToken !== undefined) filters.push({ Name: "client-token", Values: [query.clientToken] });
      if (query.instanceIds === undefined) filters.push({ Name: "instance-state-name", Values: query.states ?? LIVE_STATES });
      const found: Ec2Instance[] = [];
      let nextToken: string | undefined;
      do {
        const out = await client.send(
          new DescribeInstancesCommand({
            ...(query.instanceIds !== undefined ? { InstanceIds: query.instanceIds } : { MaxResults: 1000 }),
            ...(filters.length > 0 ? { Filters: filters } : {}),
            NextToken: nextToken,
          }),
        );
        for (const r of out.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId !== undefined) found.push(toInstance(i));
        nextToken = out.NextToken;
      } while (nextToken !== undefined && nextToken !== "");
      return found;
    },
    async terminateInstances(instanceIds) {
      await client.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    },
    async subnetZones(subnetIds) {
      if (subnetIds.length === 0) return {};
      const out = await client.send(new DescribeSubnetsCommand({ SubnetIds: subnetIds }));
      const zones: Record<string, string> = {};
      for (const s of out.Subnets ?? []) if (s.SubnetId !== undefined && s.AvailabilityZone !== undefined) zones[s.SubnetId] = s.AvailabilityZone;
      return zones;
    },
    async spotPrices(instanceTypes, since) {
      const prices: Array<{ instanceType: string; zone: string; pricePerHour: number; at?: Date }> = [];
      let nextToken: string | undefined;
      do {
        const out = await client.send(
          new DescribeSpotPriceHistoryCommand({
            InstanceTypes: instanceTypes as _InstanceType[],
            ProductDescriptions: ["Linux/UNIX"],
            StartTime: since,
            NextToken: nextToken,
          }),
        );
        for (const p of out.SpotPriceHistory ?? []) {
          const price = Number(p.SpotPrice);
          if (p.InstanceType !== undefined && p.AvailabilityZone !== undefined && Number.isFinite(price)) {
            prices.push({ instanceType: p.InstanceType, zone: p.AvailabilityZone, pricePerHour: price, at: p.Timestamp });
          }
        }
        nextToken = out.NextToken;
      } while (nextToken !== undefined && nextToken !== "");
      return prices;
    },
    close() {
      client.destroy();
    },
  };
}

function toInstance(i: {
  InstanceId?: string;
  State?: { Name?: string };
  InstanceType?: string;
  Placement?: { AvailabilityZone?: string };
  LaunchTime?: Date;
  Tags?: Array<{ Key?: string; Value?: string }>;
}): Ec2Instance {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? "";
  return {
    instanceId: i.InstanceId ?? "",
    state: i.State?.Name ?? "pending",
    instanceType: i.InstanceType,
    zone: i.Placement?.AvailabilityZone,
    launchTime: i.LaunchTime,
    tags,
  };
}
