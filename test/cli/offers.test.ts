import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DescribeSpotPriceHistoryCommand, EC2Client, EC2ServiceException } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import type { OfferJson } from "../../src/cli/commands/offers.js";
import type { CliResult } from "./cli-process.js";
import { runCliInProcess } from "./cli-process.js";

const BIN = fileURLToPath(new URL("../../bin/dstack.js", import.meta.url));

let home: string;

/** The built CLI with no AWS credentials anywhere: no AWS_* variables, an empty HOME. */
function runOffers(args: readonly string[], cwd = home): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "offers", ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), "dstack-offers-"));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("dstack offers", () => {
  it("prints the fitting types cheapest first as DESIGN §7's JSON, and says on stderr that it used the bundled catalogue", async () => {
    const result = await runOffers(["--gpu", "1", "--gpu-name", "a100-80gb", "--json"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^no AWS credentials found: using the bundled catalogue \(us-east-1 list prices as of \d{4}-\d\d; spot prices are typical, not quotes\)\n$/);
    const offers = JSON.parse(result.stdout) as OfferJson[];
    expect(offers).toEqual([
      {
        instanceType: "p4de.24xlarge",
        gpu: { name: "A100", count: 8, memoryMiB: 81920 },
        vcpus: 96,
        memoryMiB: 1152 * 1024,
        pricePerHour: { onDemand: 40.9657, spot: expect.any(Number) },
      },
    ]);
  });

  it("combines GPU count, GPU memory, vCPUs and memory", async () => {
    const result = await runOffers(["--gpu", "4", "--gpu-memory", "24GB", "--cpu", "48", "--memory", "192GB", "--json"]);
    expect(result.code).toBe(0);
    const offers = JSON.parse(result.stdout) as OfferJson[];
    expect(offers.map((o) => o.instanceType)).toEqual(["g6.12xlarge", "g5.12xlarge", "g6.24xlarge", "g5.24xlarge", "g6e.12xlarge", "g6.48xlarge", "g6e.24xlarge", "g5.48xlarge", "g6e.48xlarge", "p3dn.24xlarge", "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge"]);
    const prices = offers.map((o) => o.pricePerHour.onDemand);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
  });

  it("sorts by spot price with --spot, and prints a table without --json", async () => {
    const result = await runOffers(["--gpu", "1", "--spot"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^INSTANCE TYPE\s+GPU\s+VCPUS\s+MEMORY\s+ON-DEMAND \$\/H\s+SPOT \$\/H$/);
    expect(lines[1]).toMatch(/^g4dn\.xlarge\s+1x T4 \(16 GB\)\s+4\s+16 GB\s+0\.5260\s+~0\.1736$/);
    const spot = lines.slice(1).map((l) => Number(/~([\d.]+)$/.exec(l)?.[1]));
    expect(spot).toEqual([...spot].sort((a, b) => a - b));
  });

  it("lists CPU-only types with a zero-GPU object in JSON", async () => {
    const { stdout, code } = await runOffers(["--cpu", "2", "--json"]);
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as OfferJson[])[0]).toEqual({
      instanceType: "t3.medium",
      gpu: { name: null, count: 0, memoryMiB: 0 },
      vcpus: 2,
      memoryMiB: 4096,
      pricePerHour: { onDemand: 0.0416, spot: expect.any(Number) },
    });
  });

  it("exits 1 with what exists when nothing fits, keeping --json output an empty array", async () => {
    const result = await runOffers(["--gpu-name", "X200", "--json"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("[]\n");
    // The failure is one `dstack: <reason>` line, like every other failure of the CLI.
    expect(result.stderr.split("\n").at(-2)).toBe("dstack: nothing fits 1x X200, on-demand: no allowed instance type has a X200 GPU; there are K80, V100, T4, A10G, L4, L40S, A100, H100");
  });

  it("asks for a workflow's `resources` when one is named (variables at their defaults, flags overriding), from a subfolder too", async () => {
    const repo = path.join(home, "repo");
    await mkdir(path.join(repo, ".dstack"), { recursive: true });
    await mkdir(path.join(repo, "src"), { recursive: true });
    await writeFile(
      path.join(repo, ".dstack", "workflows.yaml"),
      "workflows:\n  - name: train\n    provider: bash\n    commands: [echo]\n    resources:\n      interruptible: true\n      gpu: {name: A100, count: \"${{ gpus }}\"}\n  - name: prep\n    provider: bash\n    commands: [echo]\n    resources: {cpu: 4, memory: 16GB}\n",
    );
    await writeFile(path.join(repo, ".dstack", "variables.yaml"), "variables:\n  train:\n    gpus: 8\n");
    const train = await runOffers(["train", "--json"], path.join(repo, "src"));
    expect(train.code).toBe(0);
    const offers = JSON.parse(train.stdout) as OfferJson[];
    expect(offers.map((o) => o.instanceType)).toEqual(["p4d.24xlarge", "p4de.24xlarge"]);
    // interruptible: sorted by spot price, as `--spot` does.
    expect(offers.every((o, i) => i === 0 || (o.pricePerHour.spot ?? 0) >= (offers[i - 1]?.pricePerHour.spot ?? 0))).toBe(true);
    const prep = JSON.parse((await runOffers(["prep", "--json"], repo)).stdout) as OfferJson[];
    expect(prep[0]).toMatchObject({ gpu: { count: 0 }, vcpus: 4, memoryMiB: 16 * 1024 });
    const overridden = JSON.parse((await runOffers(["train", "--gpu", "0", "--cpu", "2", "--json"], repo)).stdout) as OfferJson[];
    expect(overridden[0]).toMatchObject({ gpu: { count: 0 }, vcpus: 2 });
    const typo = await runOffers(["trian"], repo);
    expect(typo.code).toBe(2);
    expect(typo.stderr.split("\n").at(-2)).toBe("dstack: no workflow `trian` in .dstack/ — did you mean `train`?; workflows: `train` and `prep`");
    const outside = await runOffers(["train"]);
    expect(outside.code).toBe(2);
    expect(outside.stderr.split("\n").at(-2)).toMatch(/^dstack: no `\.dstack\/` folder in the current directory or above it/);
    await writeFile(path.join(repo, ".dstack", "workflows.yaml"), "workflows:\n  - name: train\n    provider: bassh\n");
    const broken = await runOffers(["train"], path.join(repo, "src"));
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("../.dstack/workflows.yaml:3:15: error: unknown provider `bassh`");
  });

  it("refuses bad sizes and numbers with exit 2 and a one-line reason", async () => {
    const result = await runOffers(["--memory", "lots"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('dstack: --memory must be a size such as 16GB or 512MB, got "lots"\n');
    const gpu = await runOffers(["--gpu", "two"]);
    expect(gpu.code).toBe(2);
    expect(gpu.stderr).toBe('dstack: --gpu must be a whole number, got "two"\n');
  });
});

describe("dstack offers with AWS credentials", () => {
  const VARS = { AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: "test-secret", AWS_REGION: "us-west-2" };

  /** Runs `run` with credentials in the environment and the EC2 client mocked. */
  async function withCredentials(run: (ec2: AwsClientStub<EC2Client>) => Promise<void>): Promise<void> {
    const saved = Object.fromEntries(Object.keys(VARS).map((k) => [k, process.env[k]]));
    Object.assign(process.env, VARS);
    const ec2 = mockClient(EC2Client);
    try {
      await run(ec2);
    } finally {
      ec2.restore();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it("prices spot with the region's current DescribeSpotPriceHistory, and says so", async () => {
    await withCredentials(async (ec2) => {
      ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [{ InstanceType: "g6.xlarge", AvailabilityZone: "us-west-2a", SpotPrice: "0.0500" }] });
      const { code, stdout, stderr } = await runCliInProcess(["offers", "--gpu", "1", "--spot", "--json"], home);
      expect(code).toBe(0);
      expect(stderr).toMatch(/^spot prices: current in us-west-2 \(DescribeSpotPriceHistory\); on-demand prices and instance facts: the bundled catalogue/);
      expect((JSON.parse(stdout) as OfferJson[])[0]).toMatchObject({ instanceType: "g6.xlarge", pricePerHour: { onDemand: 0.8048, spot: 0.05 } });
      expect(ec2.commandCalls(DescribeSpotPriceHistoryCommand)[0]?.args[0].input.ProductDescriptions).toEqual(["Linux/UNIX"]);
    });
  });

  it("falls back to the bundled catalogue when EC2 refuses, naming the error", async () => {
    await withCredentials(async (ec2) => {
      ec2.on(DescribeSpotPriceHistoryCommand).rejects(new EC2ServiceException({ name: "UnauthorizedOperation", $fault: "client", $metadata: {}, message: "not allowed" }));
      const { code, stdout, stderr } = await runCliInProcess(["offers", "--gpu", "1", "--spot", "--json"], home);
      expect(code).toBe(0);
      expect(stderr).toMatch(/^cannot read spot prices from EC2 in us-west-2 \(UnauthorizedOperation\): using the bundled catalogue/);
      expect((JSON.parse(stdout) as OfferJson[])[0]?.instanceType).toBe("g4dn.xlarge");
    });
  });
});

