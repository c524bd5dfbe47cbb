import os from "node:os";
import type { Command } from "commander";
import { hasAwsCredentials } from "../../../runners/ec2/aws-credentials.js";
import { bundledCatalogue, type Catalogue, type InstanceType } from "../../../runners/ec2/catalogue.js";
import { errorCode } from "../../../runners/ec2/capacity-errors.js";
import { explainNoOffer, formatMiB } from "../../../runners/ec2/describe-request.js";
import { withLiveSpotPrices } from "../../../runners/ec2/live-spot-prices.js";
import { selectOffers, type Offer, type OfferRequest } from "../../../runners/ec2/select-offers.js";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { didYouMean, listInline } from "../../workflow/did-you-mean.js";
import { formatProblem, loadWorkflows, parseMemorySizeMiB } from "../../workflow/index.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-code.js";
import { findDstackRoot, pathFromCwd } from "../find-dstack-root.js";
import { readDstackFolder } from "../read-dstack-folder.js";

/** One offer as `dstack offers --json` prints it (DESIGN.md §7); `gpu.name` is null on a CPU-only type. */
export interface OfferJson {
  instanceType: string;
  gpu: { name: string | null; count: number; memoryMiB: number };
  vcpus: number;
  memoryMiB: number;
  pricePerHour: { onDemand: number; spot: number | null };
}

interface OffersFlags {
  gpu?: string;
  gpuName?: string;
  gpuMemory?: string;
  cpu?: string;
  memory?: string;
  maxPrice?: string;
  spot?: boolean;
  json?: boolean;
}

/**
 * `dstack offers`: the EC2 instance types that fit, cheapest first, from the same selection the EC2
 * backend uses; no server needed. `env` is read only to tell whether AWS credentials exist.
 */
export function registerOffers(program: Command, ctx: CommandContext, env: Readonly<Record<string, string | undefined>> = process.env): void {
  program
    .command("offers")
    .description("list the EC2 instance types that fit the given resources, cheapest first, with hourly prices (no server needed)")
    .option("--gpu <n>", "number of GPUs")
    .option("--gpu-name <name>", "GPU model, case-insensitive: K80, V100, T4, A10G, L4, L40S, A100, A100-80GB, H100")
    .option("--gpu-memory <size>", "memory per GPU, e.g. 24GB")
    .option("--cpu <n>", "number of vCPUs")
    .option("--memory <size>", "memory, e.g. 16GB")
    .option("--max-price <dollars>", "highest price per hour")
    .option("--spot", "spot (interruptible) instances, sorted by spot price")
    .option("--json", "print an array of {instanceType, gpu: {name, count, memoryMiB}, vcpus, memoryMiB, pricePerHour: {onDemand, spot}}")
    .argument("[workflow]", "a workflow of .dstack/ here: its `resources` are asked for (the options above override them)")
    .action(async (workflow: string | undefined, flags: OffersFlags) => {
      const base = workflow === undefined ? undefined : await workflowResources(ctx, workflow);
      const credentials = hasAwsCredentials(env, env.HOME ?? os.homedir());
      ctx.exit(await offers(ctx, flags, credentials ? (env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1") : undefined, base));
    });
}

/**
 * The `resources` of `name` in the `.dstack/` the current directory belongs to (found as `dstack
 * validate` finds it), with `${{ }}` variables at their defaults; refused, with the problems, when
 * the files do not load.
 */
async function workflowResources(ctx: CommandContext, name: string): Promise<OfferRequest> {
  const root = await findDstackRoot(ctx.cwd);
  if (root === undefined) throw new NotFoundError(`no \`.dstack/\` folder in the current directory or above it: \`dstack offers ${name}\` reads the workflow's \`resources\` from there`);
  const loaded = loadWorkflows(await readDstackFolder(root, "the current directory"));
  const errors = loaded.problems.filter((p) => p.severity === "error");
  if (errors.length > 0) {
    for (const problem of errors) ctx.io.err(`${formatProblem({ ...problem, file: pathFromCwd(ctx.cwd, root, problem.file) })}\n`);
    throw new InvalidInputError(`.dstack/ has ${errors.length} error(s); fix them first (\`dstack validate\` lists them)`);
  }
  const found = loaded.workflows.find((w) => w.name === name);
  if (found === undefined) {
    const known = loaded.workflows.map((w) => w.name);
    throw new NotFoundError(`no workflow \`${name}\` in .dstack/${didYouMean(name, known)}${known.length > 0 ? `; workflows: ${listInline(known)}` : ""}`);
  }
  const { gpu, cpu, memoryMiB, interruptible } = found.resources;
  return { interruptible, ...(gpu !== undefined && gpu.count > 0 ? { gpu: { ...gpu } } : {}), ...(cpu !== undefined ? { cpu } : {}), ...(memoryMiB !== undefined ? { memoryMiB } : {}) };
}

/** `region` is set when AWS credentials exist: spot prices then come from EC2 (DescribeSpotPriceHistory). */
async function offers(ctx: CommandContext, flags: OffersFlags, region: string | undefined, base?: OfferRequest): Promise<ExitCode> {
  const request = readRequest(flags, base);
  const maxPricePerHour = flags.maxPrice === undefined ? undefined : positiveNumber("--max-price", flags.maxPrice);
  let catalogue: Catalogue = bundledCatalogue();
  // stderr, so that --json output stays one clean JSON document.
  const source = `the bundled catalogue (${catalogue.region} list prices as of ${catalogue.pricesAsOf}; spot prices are typical, not quotes)`;
  if (region === undefined) {
    ctx.io.err(`no AWS credentials found: using ${source}\n`);
  } else {
    // Loaded only here: the EC2 SDK takes about half a second to load, which every other command would pay.
    const [{ EC2Client }, { createEc2Api }] = await Promise.all([import("@aws-sdk/client-ec2"), import("../../../runners/ec2/ec2-api.js")]);
    const api = createEc2Api(new EC2Client({ region, maxAttempts: 2, requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 } }));
    try {
      catalogue = await withLiveSpotPrices(catalogue, api, [], Date.now());
      ctx.io.err(`spot prices: current in ${region} (DescribeSpotPriceHistory); on-demand prices and instance facts: ${source}\n`);
    } catch (err) {
      ctx.io.err(`cannot read spot prices from EC2 in ${region} (${errorCode(err)}): using ${source}\n`);
    } finally {
      api.close();
    }
  }
  const found = selectOffers(request, catalogue, { maxPricePerHour });
  if (flags.json === true) ctx.io.out(`${JSON.stringify(found.map((o) => toJson(o.type)), null, 2)}\n`);
  else if (found.length > 0) ctx.io.out(table(found));
  if (found.length === 0) {
    ctx.io.err(`dstack: ${explainNoOffer(request, catalogue, { maxPricePerHour })}\n`);
    return ExitCode.failure;
  }
  return ExitCode.ok;
}

/** The request of the flags, over a workflow's `resources` when one was named (`--gpu 0` drops its GPUs). */
function readRequest(flags: OffersFlags, base: OfferRequest = { interruptible: false }): OfferRequest {
  const request: OfferRequest = { ...base, interruptible: flags.spot === true || base.interruptible };
  const count = flags.gpu === undefined ? undefined : nonNegativeInt("--gpu", flags.gpu);
  if (count === 0) delete request.gpu;
  else if (count !== undefined || flags.gpuName !== undefined || flags.gpuMemory !== undefined) {
    request.gpu = { ...request.gpu, count: count ?? request.gpu?.count ?? 1 };
    if (flags.gpuName !== undefined) {
      if (flags.gpuName.trim() === "") throw new InvalidInputError("--gpu-name must not be empty");
      request.gpu.name = flags.gpuName;
    }
    if (flags.gpuMemory !== undefined) request.gpu.memoryMiB = size("--gpu-memory", flags.gpuMemory);
  }
  if (flags.cpu !== undefined) request.cpu = nonNegativeInt("--cpu", flags.cpu);
  if (flags.memory !== undefined) request.memoryMiB = size("--memory", flags.memory);
  return request;
}

function nonNegativeInt(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidInputError(`${flag} must be a whole number, got ${JSON.stringify(text)}`);
  return n;
}

function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidInputError(`${flag} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

function size(flag: string, text: string): number {
  const mib = parseMemorySizeMiB(text);
  if (mib === undefined) throw new InvalidInputError(`${flag} must be a size such as 16GB or 512MB, got ${JSON.stringify(text)}`);
  return mib;
}

export function toJson(type: InstanceType): OfferJson {
  return {
    instanceType: type.instanceType,
    gpu: type.gpu === null ? { name: null, count: 0, memoryMiB: 0 } : { name: type.gpu.name, count: type.gpu.count, memoryMiB: type.gpu.memoryMiB },
    vcpus: type.vcpus,
    memoryMiB: type.memoryMiB,
    pricePerHour: { onDemand: type.pricePerHour.onDemand, spot: type.pricePerHour.spot },
  };
}

function table(found: readonly Offer[]): string {
  const rows = [["INSTANCE TYPE", "GPU", "VCPUS", "MEMORY", "ON-DEMAND $/H", "SPOT $/H"]];
  for (const { type } of found) {
    const gpu = type.gpu === null ? "-" : `${type.gpu.count}x ${type.gpu.name} (${formatMiB(type.gpu.memoryMiB)})`;
    const spot = type.pricePerHour.spot === null ? "-" : `~${type.pricePerHour.spot.toFixed(4)}`;
    rows.push([type.instanceType, gpu, String(type.vcpus), formatMiB(type.memoryMiB), type.pricePerHour.onDemand.toFixed(4), spot]);
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => `${r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()}\n`).join("");
}
