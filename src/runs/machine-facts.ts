import { formatDuration } from "./run-view.js";
import type { Run } from "./types.js";

/**
 * What a run's machine is and costs, from the facts its backend put in `machine.details` (the EC2
 * backend: instance type, zone, market, hourly price, launch time) and the run's own times. Pure:
 * the check-run summary, the PR comment, the run page and the API all show these same numbers.
 */
export interface MachineFacts {
  instanceId: string;
  instanceType?: string;
  zone?: string;
  /** `spot` or `on-demand`. */
  market?: string;
  /** Dollars per hour in its market, as the offer was chosen at. */
  pricePerHour?: number;
  /** GPUs of the instance type, and their model. */
  gpuCount?: number;
  gpuName?: string;
  /** From `provisioning` to the agent's first request; absent until the agent called. */
  bootMs?: number;
  /** Price x time since launch, to the end or to now, plus the machines of interrupted earlier attempts; absent without a price. */
  costDollars?: number;
  /** True once the run ended: `costDollars` is the total. */
  final: boolean;
}

/** The facts of `run`'s machine at `nowMs`, or undefined while it has none. */
export function machineFacts(run: Pick<Run, "machine" | "provisioningAt" | "agentContactAt" | "finishedAt" | "attempts">, nowMs: number): MachineFacts | undefined {
  const m = run.machine;
  if (m === undefined) return undefined;
  const text = (k: string) => (typeof m.details[k] === "string" && m.details[k] !== "" ? (m.details[k] as string) : undefined);
  const num = (k: string) => (typeof m.details[k] === "number" && Number.isFinite(m.details[k]) ? (m.details[k] as number) : undefined);
  const price = num("pricePerHour");
  const facts: MachineFacts = { instanceId: m.id, final: run.finishedAt !== undefined };
  const set = <K extends keyof MachineFacts>(k: K, v: MachineFacts[K] | undefined) => {
    if (v !== undefined) facts[k] = v;
  };
  set("instanceType", text("instanceType"));
  set("zone", text("zone"));
  set("market", text("market"));
  set("pricePerHour", price);
  set("gpuCount", num("gpuCount"));
  set("gpuName", text("gpuName"));
  if (run.provisioningAt !== undefined && run.agentContactAt !== undefined) set("bootMs", Math.max(0, run.agentContactAt - run.provisioningAt));
  const priced = machineSpans(run).filter((s) => s.pricePerHour !== undefined);
  if (priced.length > 0) set("costDollars", priced.reduce((sum, s) => sum + machineCost(s.pricePerHour ?? 0, s.fromMs, s.toMs ?? nowMs), 0));
  return facts;
}

/** A machine a run had, from its launch to its end (`toMs` absent: still there), at its hourly price. */
export interface MachineSpan {
  pricePerHour?: number;
  gpuCount?: number;
  fromMs: number;
  toMs?: number;
}

/**
 * Every machine that billed for `run`: those of its interrupted attempts (to the interruption
 * notice) and the current one (to the run's end). Machines without a launch time (the local
 * backend) are left out.
 */
export function machineSpans(run: Pick<Run, "machine" | "finishedAt" | "attempts">): MachineSpan[] {
  const spans: MachineSpan[] = [];
  for (const a of run.attempts ?? []) {
    if (a.launchedAt !== undefined) spans.push({ pricePerHour: a.pricePerHour, gpuCount: a.gpuCount, fromMs: a.launchedAt, toMs: a.interruptedAt });
  }
  const d = run.machine?.details;
  if (typeof d?.launchedAt === "number") {
    spans.push({
      pricePerHour: typeof d.pricePerHour === "number" ? d.pricePerHour : undefined,
      gpuCount: typeof d.gpuCount === "number" ? d.gpuCount : undefined,
      fromMs: d.launchedAt,
      toMs: run.finishedAt,
    });
  }
  return spans;
}

/** Dollars for `pricePerHour` from `fromMs` to `toMs` (EC2 bills Linux instances per second). */
export function machineCost(pricePerHour: number, fromMs: number, toMs: number): number {
  return (pricePerHour * Math.max(0, toMs - fromMs)) / 3_600_000;
}

/** `$0.42`; under a cent two significant digits (`$0.0031`), so a short run does not read as free. */
export function formatDollars(dollars: number): string {
  if (dollars > 0 && dollars < 0.01) return `$${dollars.toFixed(Math.min(10, 1 - Math.floor(Math.log10(dollars))))}`;
  return `$${dollars.toFixed(2)}`;
}

/** An hourly price as the catalogue has it: `$0.0416/h`, `$32.7726/h`. */
export function formatPrice(pricePerHour: number): string {
  return `$${Number(pricePerHour.toFixed(4))}/h`;
}

/**
 * The facts as the words of the check-run summary and the run page (pure view data). `spotAsked`:
 * the run asked for spot, so an on-demand machine says it is the DSTACK_EC2_SPOT_FALLBACK.
 */
export function machineFactsView(facts: MachineFacts | undefined, spotAsked = false) {
  if (facts === undefined) return undefined;
  const gpus = facts.gpuCount !== undefined && facts.gpuCount > 0 && facts.gpuName !== undefined ? ` (${facts.gpuCount}x ${facts.gpuName})` : "";
  return {
    instanceId: facts.instanceId,
    instanceType: facts.instanceType === undefined ? undefined : `${facts.instanceType}${gpus}`,
    zone: facts.zone,
    market: facts.market === "on-demand" && spotAsked ? "on-demand (no spot capacity: DSTACK_EC2_SPOT_FALLBACK)" : facts.market,
    price: facts.pricePerHour === undefined ? undefined : formatPrice(facts.pricePerHour),
    bootTime: facts.bootMs === undefined ? undefined : formatDuration(facts.bootMs),
    cost: facts.costDollars === undefined ? undefined : formatDollars(facts.costDollars),
    costLabel: facts.final ? "Cost" : "Cost so far",
  };
}
