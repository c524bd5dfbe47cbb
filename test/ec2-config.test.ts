import { describe, expect, it } from "@jest/globals";
import { loadConfig } from "../src/config.js";
import { DEFAULT_EC2_AMI } from "../src/ec2-config.js";

const BASE = { DSTACK_DATA_DIR: "/tmp/dstack-config-test" };

describe("EC2 configuration", () => {
  it("reads every DSTACK_EC2_* variable", () => {
    const config = loadConfig({
      ...BASE,
      DSTACK_BACKEND: "ec2",
      DSTACK_PUBLIC_URL: "https://dstack.example.com",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_EC2: "http://127.0.0.1:4566",
      DSTACK_EC2_SUBNETS: "subnet-0a, subnet-0b",
      DSTACK_EC2_SECURITY_GROUPS: "sg-0123",
      DSTACK_EC2_AMI: "ami-0abc",
      DSTACK_EC2_INSTANCE_PROFILE: "dstack-runner",
      DSTACK_EC2_KEY_PAIR: "debug",
      DSTACK_EC2_FAMILIES: "g5,g6",
      DSTACK_EC2_MAX_PRICE: "2.5",
      DSTACK_EC2_MAX_INSTANCES: "3",
      DSTACK_EC2_SPOT_FALLBACK: "true",
      DSTACK_EC2_RESUME_MARKET: "on-demand",
    });
    expect(config.ec2).toEqual({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:4566",
      subnets: ["subnet-0a", "subnet-0b"],
      securityGroups: ["sg-0123"],
      ami: "ami-0abc",
      instanceProfile: "dstack-runner",
      keyPair: "debug",
      families: ["g5", "g6"],
      maxPricePerHour: 2.5,
      maxInstances: 3,
      spotFallback: true,
      resumeMarket: "on-demand",
    });
    expect(Object.isFrozen(config.ec2)).toBe(true);
  });

  it("defaults to the Deep Learning Base AMI by SSM parameter, every family, 8 instances and no spot fallback", () => {
    const { ec2 } = loadConfig(BASE);
    expect(ec2).toMatchObject({ ami: DEFAULT_EC2_AMI, families: [], subnets: [], securityGroups: [], maxInstances: 8, spotFallback: false, resumeMarket: "spot" });
    expect(ec2.maxPricePerHour).toBeUndefined();
  });

  it("reports every bad EC2 variable in one message", () => {
    expect(() =>
      loadConfig({
        ...BASE,
        DSTACK_BACKEND: "ec2",
        DSTACK_EC2_SUBNETS: "subnet-0a,us-east-1a",
        DSTACK_EC2_SECURITY_GROUPS: "default",
        DSTACK_EC2_AMI: "ubuntu",
        DSTACK_EC2_FAMILIES: "g5,g7",
        DSTACK_EC2_MAX_PRICE: "cheap",
        DSTACK_EC2_SPOT_FALLBACK: "maybe",
        DSTACK_EC2_RESUME_MARKET: "reserved",
      }),
    ).toThrow(
      [
        "invalid configuration:",
        '- DSTACK_EC2_SUBNETS must list subnet-… ids separated by commas, got "us-east-1a"',
        '- DSTACK_EC2_SECURITY_GROUPS must list sg-… ids separated by commas, got "default"',
        '- DSTACK_EC2_AMI must be an ami-… id or resolve:ssm:PARAMETER, got "ubuntu"',
        "- DSTACK_EC2_FAMILIES has families the catalogue does not know: g7; known: p2, p3, p3dn, g4dn, g5, g6, g6e, p4d, p4de, p5, t3, m5, c5, r5",
        '- DSTACK_EC2_MAX_PRICE must be dollars per hour (a positive number), got "cheap"',
        '- DSTACK_EC2_SPOT_FALLBACK must be true or false, got "maybe"',
        '- DSTACK_EC2_RESUME_MARKET must be spot or on-demand, got "reserved"',
        "- DSTACK_BACKEND=ec2 needs AWS_REGION (the region instances start in)",
        "- DSTACK_BACKEND=ec2 needs DSTACK_PUBLIC_URL: the address EC2 instances reach this service at",
      ].join("\n"),
    );
  });

  it("refuses an AWS_REGION that is not a region, naming the region of a zone", () => {
    const withRegion = (AWS_REGION: string) => () => loadConfig({ ...BASE, DSTACK_BACKEND: "ec2", DSTACK_PUBLIC_URL: "https://dstack.example.com", AWS_REGION });
    expect(withRegion("us-east-1a")).toThrow('AWS_REGION must be a region such as us-east-1, got "us-east-1a" (an availability zone of us-east-1: zones are chosen with DSTACK_EC2_SUBNETS)');
    expect(withRegion("US East")).toThrow('AWS_REGION must be a region such as us-east-1, got "US East"');
    for (const region of ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-5"]) expect(withRegion(region)().ec2.region).toBe(region);
  });

  it("reports a bad DSTACK_EC2_MAX_INSTANCES with the other problems of the environment", () => {
    expect(() => loadConfig({ ...BASE, DSTACK_EC2_MAX_INSTANCES: "0", PORT: "x" })).toThrow(/PORT must be a positive integer[\s\S]*DSTACK_EC2_MAX_INSTANCES must be a positive integer, got "0"/);
  });
});

describe("DSTACK_EC2_BUDGET_PER_DAY", () => {
  const budget = (value: string) => loadConfig({ ...BASE, DSTACK_EC2_BUDGET_PER_DAY: value }).ec2.budgetPerDay;

  it("reads dollars, GPU-hours or both", () => {
    expect(budget("50")).toEqual({ dollars: 50 });
    expect(budget("$12.5")).toEqual({ dollars: 12.5 });
    expect(budget("20 gpu-hours")).toEqual({ gpuHours: 20 });
    expect(budget("$50, 8GPUh")).toEqual({ dollars: 50, gpuHours: 8 });
    expect(loadConfig(BASE).ec2.budgetPerDay).toBeUndefined();
  });

  it("refuses anything else, naming the accepted forms", () => {
    for (const bad of ["fifty", "-5", "0", "$5, $6", "20 hours"]) {
      expect(() => budget(bad)).toThrow(
        `DSTACK_EC2_BUDGET_PER_DAY must be dollars (\`50\` or \`$50\`), GPU-hours (\`20 gpu-hours\`) or both (\`$50, 20 gpu-hours\`), got ${JSON.stringify(bad)}`,
      );
    }
  });
});
