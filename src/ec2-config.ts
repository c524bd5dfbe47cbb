import { bundledCatalogue } from "../runners/ec2/catalogue.js";

/** The EC2 backend's settings (DESIGN.md §4 style; README's configuration table lists each variable). */
export interface Ec2Config {
  /** AWS_REGION; required with DSTACK_BACKEND=ec2. */
  region?: string;
  /** AWS_ENDPOINT_URL_EC2 (then AWS_ENDPOINT_URL): an EC2-compatible endpoint. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** DSTACK_EC2_SUBNETS: tried in this order on capacity errors (one per zone); empty: the default VPC's choice. */
  subnets: string[];
  /** DSTACK_EC2_SECURITY_GROUPS; empty: the VPC's default group. */
  securityGroups: string[];
  /** DSTACK_EC2_AMI: an `ami-` id or `resolve:ssm:PARAMETER`; default the latest Deep Learning Base GPU AMI. */
  ami: string;
  /** DSTACK_EC2_INSTANCE_PROFILE: a name or an ARN. */
  instanceProfile?: string;
  /** DSTACK_EC2_KEY_PAIR: for SSH access when debugging; none by default. */
  keyPair?: string;
  /** DSTACK_EC2_FAMILIES: allowed instance families; empty: every family of the catalogue. */
  families: string[];
  /** DSTACK_EC2_MAX_PRICE: dollars per hour, in the offer's market (also the spot bid cap). */
  maxPricePerHour?: number;
  /** DSTACK_EC2_MAX_INSTANCES: instances of this service at once (default 8). */
  maxInstances: number;
  /** DSTACK_EC2_SPOT_FALLBACK: an interruptible run with no spot capacity may run on-demand (default false). */
  spotFallback: boolean;
  /**
   * DSTACK_EC2_RESUME_MARKET: where a run goes on after a spot interruption: `spot` (default: the next
   * spot offer, on-demand only as DSTACK_EC2_SPOT_FALLBACK allows) or `on-demand` (not interrupted again).
   */
  resumeMarket: "spot" | "on-demand";
  /**
   * DSTACK_EC2_BUDGET_PER_DAY: what one repository may spend per UTC day, in dollars and/or GPU-hours;
   * past it, new runs wait for a writer's `/dstack approve`. Absent: no limit.
   */
  budgetPerDay?: DailyBudget;
}

/** A per-repository daily budget: either limit, or both (reaching either holds new runs). */
export interface DailyBudget {
  dollars?: number;
  gpuHours?: number;
}

/**
 * The latest AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04), by its public SSM
 * parameter: RunInstances resolves `resolve:ssm:` itself (no ssm:GetParameters call of ours, but
 * the caller needs `ssm:GetParameters` on it).
 */
export const DEFAULT_EC2_AMI = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id";

interface Ec2Env {
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_ENDPOINT_URL_EC2?: string;
  AWS_ENDPOINT_URL?: string;
  DSTACK_EC2_SUBNETS?: string;
  DSTACK_EC2_SECURITY_GROUPS?: string;
  DSTACK_EC2_AMI?: string;
  DSTACK_EC2_INSTANCE_PROFILE?: string;
  DSTACK_EC2_KEY_PAIR?: string;
  DSTACK_EC2_FAMILIES?: string;
  DSTACK_EC2_MAX_PRICE?: string;
  DSTACK_EC2_MAX_INSTANCES: number;
  DSTACK_EC2_SPOT_FALLBACK?: string;
  DSTACK_EC2_RESUME_MARKET?: string;
  DSTACK_EC2_BUDGET_PER_DAY?: string;
}

const list = (text: string | undefined): string[] =>
  (text ?? "")
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

/**
 * Reads DSTACK_EC2_* (and the AWS variables the backend uses), pushing every problem to `problems`.
 * Values are checked whatever the backend; what the backend cannot start without only for `ec2`.
 */
export function readEc2Config(e: Ec2Env, context: { backend: string; publicUrlSet: boolean }, problems: string[]): Ec2Config {
  const subnets = list(e.DSTACK_EC2_SUBNETS);
  const bad = (name: string, values: string[], pattern: RegExp, example: string) => {
    const wrong = values.filter((v) => !pattern.test(v));
    if (wrong.length > 0) problems.push(`${name} must list ${example} ids separated by commas, got ${wrong.map((w) => JSON.stringify(w)).join(", ")}`);
  };
  bad("DSTACK_EC2_SUBNETS", subnets, /^subnet-[0-9a-f]+$/, "subnet-…");
  const securityGroups = list(e.DSTACK_EC2_SECURITY_GROUPS);
  bad("DSTACK_EC2_SECURITY_GROUPS", securityGroups, /^sg-[0-9a-f]+$/, "sg-…");
  const ami = e.DSTACK_EC2_AMI ?? DEFAULT_EC2_AMI;
  if (!/^(ami-[0-9a-f]+|resolve:ssm:\/?[\w./-]+)$/.test(ami)) {
    problems.push(`DSTACK_EC2_AMI must be an ami-… id or resolve:ssm:PARAMETER, got ${JSON.stringify(ami)}`);
  }
  const families = list(e.DSTACK_EC2_FAMILIES);
  const known = families.length === 0 ? [] : [...new Set(bundledCatalogue().types.map((t) => t.family))];
  const unknown = families.filter((f) => !known.includes(f));
  if (unknown.length > 0) problems.push(`DSTACK_EC2_FAMILIES has families the catalogue does not know: ${unknown.join(", ")}; known: ${known.join(", ")}`);
  let maxPricePerHour: number | undefined;
  if (e.DSTACK_EC2_MAX_PRICE !== undefined) {
    maxPricePerHour = Number(e.DSTACK_EC2_MAX_PRICE);
    if (!Number.isFinite(maxPricePerHour) || maxPricePerHour <= 0) {
      problems.push(`DSTACK_EC2_MAX_PRICE must be dollars per hour (a positive number), got ${JSON.stringify(e.DSTACK_EC2_MAX_PRICE)}`);
    }
  }
  const fallback = (e.DSTACK_EC2_SPOT_FALLBACK ?? "false").toLowerCase();
  if (!["true", "false", "1", "0", "yes", "no"].includes(fallback)) {
    problems.push(`DSTACK_EC2_SPOT_FALLBACK must be true or false, got ${JSON.stringify(e.DSTACK_EC2_SPOT_FALLBACK)}`);
  }
  const budgetPerDay = e.DSTACK_EC2_BUDGET_PER_DAY === undefined ? undefined : parseDailyBudget(e.DSTACK_EC2_BUDGET_PER_DAY, problems);
  const resumeMarket = (e.DSTACK_EC2_RESUME_MARKET ?? "spot").toLowerCase();
  if (resumeMarket !== "spot" && resumeMarket !== "on-demand") {
    problems.push(`DSTACK_EC2_RESUME_MARKET must be spot or on-demand, got ${JSON.stringify(e.DSTACK_EC2_RESUME_MARKET)}`);
  }
  if (context.backend === "ec2") {
    if (e.AWS_REGION === undefined) problems.push("DSTACK_BACKEND=ec2 needs AWS_REGION (the region instances start in)");
    // A zone (`us-east-1a`) or a typo would only show later, as a DNS error of the first launch.
    else if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(e.AWS_REGION)) {
      const zone = /^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$/.exec(e.AWS_REGION)?.[1];
      problems.push(`AWS_REGION must be a region such as us-east-1, got ${JSON.stringify(e.AWS_REGION)}${zone !== undefined ? ` (an availability zone of ${zone}: zones are chosen with DSTACK_EC2_SUBNETS)` : ""}`);
    }
    // The default (http://localhost:PORT) is this machine: an instance would never reach it.
    if (!context.publicUrlSet) problems.push("DSTACK_BACKEND=ec2 needs DSTACK_PUBLIC_URL: the address EC2 instances reach this service at");
  }
  return Object.freeze({
    region: e.AWS_REGION,
    endpoint: e.AWS_ENDPOINT_URL_EC2 ?? e.AWS_ENDPOINT_URL,
    accessKeyId: e.AWS_ACCESS_KEY_ID,
    secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
    subnets,
    securityGroups,
    ami,
    instanceProfile: e.DSTACK_EC2_INSTANCE_PROFILE,
    keyPair: e.DSTACK_EC2_KEY_PAIR,
    families,
    maxPricePerHour,
    maxInstances: e.DSTACK_EC2_MAX_INSTANCES,
    spotFallback: ["true", "1", "yes"].includes(fallback),
    resumeMarket: resumeMarket === "on-demand" ? "on-demand" : "spot",
    ...(budgetPerDay !== undefined ? { budgetPerDay: Object.freeze(budgetPerDay) } : {}),
  });
}

/** `50` or `$50` (dollars), `20 gpu-hours` (or `20gpuh`), or both separated by a comma: `$50, 20 gpu-hours`. */
function parseDailyBudget(text: string, problems: string[]): DailyBudget | undefined {
  const budget: DailyBudget = {};
  const bad = () => problems.push(`DSTACK_EC2_BUDGET_PER_DAY must be dollars (\`50\` or \`$50\`), GPU-hours (\`20 gpu-hours\`) or both (\`$50, 20 gpu-hours\`), got ${JSON.stringify(text)}`);
  for (const item of text.split(",").map((s) => s.trim().toLowerCase())) {
    const dollars = /^\$?\s*(\d+(?:\.\d+)?)\s*(?:\$|usd|dollars?)?$/.exec(item);
    const gpuHours = /^(\d+(?:\.\d+)?)\s*gpu[\s_-]*h(?:ours?)?$/.exec(item);
    const value = Number((dollars ?? gpuHours)?.[1]);
    const field = dollars !== null ? "dollars" : gpuHours !== null ? "gpuHours" : undefined;
    if (field === undefined || !(value > 0) || budget[field] !== undefined) {
      bad();
      return undefined;
    }
    budget[field] = value;
  }
  return budget;
}
