import { createHash } from "node:crypto";
import type { Ec2Config } from "../../src/config.js";
import { DstackError } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import type { Machine, Run } from "../../src/runs/types.js";
import type { Resources } from "../../src/workflow/types.js";
import type { MachineState, ReconcileDeps, ReconcileReport, RunnerBackend, StartInput } from "../types.js";
import { errorCode, failureScope } from "./capacity-errors.js";
import { bundledCatalogue, type Catalogue } from "./catalogue.js";
import { describeRequest, explainNoOffer } from "./describe-request.js";
import { createEc2Api, createEc2Client, type Ec2Api, type RunInstancesCommandInput } from "./ec2-api.js";
import { withLiveSpotPrices } from "./live-spot-prices.js";
import { reconcileInstances } from "./reconcile-instances.js";
import { selectOffers, type Offer, type SelectOptions } from "./select-offers.js";
import { renderUserData } from "./user-data.js";

export interface Ec2BackendOptions {
  config: Ec2Config;
  /** Value of the `dstack:service` tag: the instances this service owns (and may terminate). */
  serviceTag: string;
  /** DSTACK_MAX_RUN_MINUTES: with `LIFETIME_SLACK_MINUTES` it bounds an instance's life. */
  maxRunMinutes: number;
  /** Default: the real EC2 API from `config`. */
  api?: Ec2Api;
  /** Default: the bundled catalogue. */
  catalogue?: Catalogue;
  /** Interruptible runs are priced with DescribeSpotPriceHistory, cached 10 minutes (default true). */
  liveSpotPrices?: boolean;
  log?: Pick<Logger, "info" | "warn">;
  /** Fitting types tried, cheapest first, in every subnet each, before giving up (default 5). */
  maxTypes?: number;
  /** Wait between looks while DSTACK_EC2_MAX_INSTANCES instances run (default 15 s). */
  capacityPollMs?: number;
  /** From RunInstances to the agent's first heartbeat: boot, Node install, agent download (default 15 minutes). */
  bootTimeoutMs?: number;
  /** Node.js version the bootstrap installs when the image has none (default: the service's). */
  nodeVersion?: string;
  now?: () => number;
}

/** Boot, dependency downloads and artifact upload on top of the run's own maximum. */
export const LIFETIME_SLACK_MINUTES = 30;

const SPOT_PRICES_TTL_MS = 10 * 60_000;

interface Candidate {
  offer: Offer;
  subnet?: string;
  zone: string;
}

/**
 * Tags beyond run, repository and service: the run attempt an instance serves (so `find` after a
 * crash never takes an interrupted attempt's instance for the current one), and the market and
 * price it was chosen at (so the adopted machine's facts and cost are those its launch recorded).
 */
const ATTEMPT_TAG = "dstack:attempt";
const MARKET_TAG = "dstack:market";
const PRICE_TAG = "dstack:price-per-hour";

/**
 * A supervisor that died during a launch may leave one instance started under a client token whose
 * user data holds an agent token rotated since; its successor replaces it under the next token.
 * Bounded: each replacement needs another crash in the same launch.
 */
const MAX_REPLACEMENTS = 3;

/**
 * One EC2 instance per run, chosen with `selectOffers` (the code `dstack offers` shows) and booted
 * with user data that starts the same runner agent the local backend runs. Capacity errors move to
 * the next subnet (zone), then the next type; each move is reported through `input.progress`.
 * Instances are tagged `dstack:run-id`, `dstack:repo` and `dstack:service`, terminate when they
 * shut down, and `reconcile` terminates any whose run is over, unknown or past its lifetime.
 */
export function createEc2Backend(options: Ec2BackendOptions): RunnerBackend {
  const config = options.config;
  const api = options.api ?? createEc2Api(createEc2Client(config));
  const catalogue = options.catalogue ?? bundledCatalogue();
  const now = options.now ?? Date.now;
  const maxLifetimeMs = (options.maxRunMinutes + LIFETIME_SLACK_MINUTES) * 60_000;
  const selectOptions: SelectOptions = { families: config.families, maxPricePerHour: config.maxPricePerHour, spotFallback: config.spotFallback };
  let live: { at: number; catalogue: Promise<Catalogue> } | undefined;
  /** The catalogue with current spot prices; the bundled typical ones when EC2 cannot say. */
  const spotCatalogue = async (): Promise<Catalogue> => {
    if (options.liveSpotPrices === false) return catalogue;
    if (live === undefined || now() - live.at > SPOT_PRICES_TTL_MS) live = { at: now(), catalogue: withLiveSpotPrices(catalogue, api, config.families, now()) };
    try {
      return await live.catalogue;
    } catch (err) {
      live = undefined;
      options.log?.warn({ err: errorCode(err) }, "spot prices unavailable; using the catalogue's typical ones");
      return catalogue;
    }
  };
  let zones: Promise<Record<string, string>> | undefined;
  const subnetZones = () => {
    zones ??= api.subnetZones(config.subnets).catch((err: unknown) => {
      zones = undefined;
      throw err;
    });
    return zones;
  };

  return {
    id: "ec2",
    bootTimeoutMs: options.bootTimeoutMs ?? 15 * 60_000,
    check(run) {
      // Each run has its own instance, so absolute artifact paths are allowed here.
      const request = run.workflow.resources;
      if (selectOffers(request, catalogue, selectOptions).length > 0) return undefined;
      return explainNoOffer(request, catalogue, selectOptions);
    },

    async start(input: StartInput): Promise<Machine> {
      const progress = input.progress ?? (() => undefined);
      const request = resumeRequest(input, config);
      const priced = request.interruptible ? await spotCatalogue() : catalogue;
      const offers = selectOffers(request, priced, selectOptions);
      if (offers.length === 0) throw new DstackError("no_offer", explainNoOffer(request, priced, selectOptions));
      await waitForSlot(input, progress);
      const byZone = await subnetZones();
      const subnets: Array<string | undefined> = config.subnets.length > 0 ? config.subnets : [undefined];
      const candidates: Candidate[] = offers
        .slice(0, options.maxTypes ?? 5)
        .flatMap((offer) => subnets.map((subnet) => ({ offer, subnet, zone: subnet === undefined ? "the default subnet" : (byZone[subnet] ?? subnet) })));
      const userData = Buffer.from(
        // The agent compares the GPUs it sees with the request: a machine chosen for a run must have them.
        renderUserData({ agentEnv: { ...input.agentEnv, DSTACK_AGENT_CHECK_GPUS: "true" }, maxLifetimeSeconds: maxLifetimeMs / 1000, nodeVersion: options.nodeVersion }),
      ).toString("base64");
      const tried: string[] = [];
      const attempt = input.attempt ?? 1;
      let replacement = 0;
      for (let i = 0; i < candidates.length; i++) {
        if (input.signal?.aborted === true) throw new DstackError("cancelled", "the launch was cancelled");
        const c = candidates[i] as Candidate;
        const clientToken = launchClientToken(input.run.id, attempt, c, replacement);
        try {
          const instance = await api.runInstances(runInstancesInput(c, input, userData, clientToken));
          const zone = instance.zone ?? c.zone;
          if (tried.length > 0) progress(`started ${label(c.offer)} in ${zone} after ${tried.length} ${tried.length === 1 ? "try" : "tries"}`);
          options.log?.info({ runId: input.run.id, instanceId: instance.instanceId, instanceType: c.offer.type.instanceType, zone, tried }, "instance started");
          return machineOf({ instanceId: instance.instanceId, offer: c.offer, zone, request, launchedAt: now(), tried: tried.join("; ") });
        } catch (err) {
          if (errorCode(err) === "IdempotentParameterMismatch" && replacement < MAX_REPLACEMENTS) {
            await replaceEarlierLaunch(input.run.id, clientToken);
            replacement++;
            i--;
            continue;
          }
          const scope = failureScope(err);
          const code = errorCode(err);
          tried.push(`${label(c.offer)} in ${c.zone}: ${code}`);
          if (scope === "fatal") {
            throw new DstackError("ec2", `EC2 refused to start ${label(c.offer)} in ${c.zone}: ${code}${err instanceof Error && err.message !== code ? `: ${err.message}` : ""}`, { cause: err });
          }
          let j = i + 1;
          if (scope === "type") while (j < candidates.length && sameOffer(candidates[j] as Candidate, c)) j++;
          const next = candidates[j];
          if (next === undefined) break;
          const what = scope === "zone" ? `no ${label(c.offer)} capacity in ${c.zone} (${code})` : `${label(c.offer)} is not available (${code})`;
          const marketChange = next.offer.market !== c.offer.market ? "; no spot capacity anywhere allowed, falling back to on-demand (DSTACK_EC2_SPOT_FALLBACK)" : "";
          progress(`${what}${marketChange}, trying ${sameOffer(next, c) ? next.zone : `${label(next.offer)} in ${next.zone}`}`);
          i = j - 1;
        }
      }
      const more = offers.length > candidates.length / subnets.length ? ` (the ${candidates.length / subnets.length} cheapest of ${offers.length} fitting types)` : "";
      throw new DstackError("no_capacity", `no EC2 capacity for ${describeRequest(request)}${more}; tried ${tried.join("; ")}`);
    },

    /**
     * The instance a supervisor that died during `start` left for this run's current attempt:
     * DescribeInstances by the run, service and attempt tags, pending or running. Its agent holds
     * the run token of that launch, which the run still has (only a new launch rotates it).
     */
    async find(run: Pick<Run, "id" | "workflow">, attempt: number): Promise<Machine | undefined> {
      const found = await api.describeInstances({
        tags: { "dstack:run-id": run.id, "dstack:service": options.serviceTag, [ATTEMPT_TAG]: String(attempt) },
        states: ["pending", "running"],
      });
      // Two only after a replaced launch whose first instance is still ending: the newest is the one that holds the current token.
      const instance = found.sort((a, b) => (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0))[0];
      if (instance === undefined) return undefined;
      const type = catalogue.types.find((t) => t.instanceType === instance.instanceType);
      const market = instance.tags[MARKET_TAG] === "spot" ? "spot" : "on-demand";
      const price = Number(instance.tags[PRICE_TAG]);
      if (type === undefined) {
        options.log?.warn({ runId: run.id, instanceId: instance.instanceId, instanceType: instance.instanceType }, "the found instance's type is not in the catalogue");
        return undefined;
      }
      const offer: Offer = { type, market, pricePerHour: Number.isFinite(price) ? price : market === "spot" ? (type.pricePerHour.spot ?? type.pricePerHour.onDemand) : type.pricePerHour.onDemand };
      const request = resumeRequest({ run, attempt }, config);
      return machineOf({ instanceId: instance.instanceId, offer, zone: instance.zone ?? "", request, launchedAt: instance.launchTime?.getTime() ?? now(), tried: "" });
    },

    async state(machine: Machine): Promise<MachineState> {
      try {
        const [instance] = await api.describeInstances({ instanceIds: [machine.id] });
        if (instance === undefined) return "gone";
        return instance.state === "pending" || instance.state === "running" ? "running" : "gone";
      } catch (err) {
        if (errorCode(err) === "InvalidInstanceID.NotFound") return "gone";
        // The API is unreachable or throttled: cannot tell, so trust the heartbeats.
        options.log?.warn({ instanceId: machine.id, err: errorCode(err) }, "cannot read the instance's state");
        return "running";
      }
    },

    async release(machine: Machine): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        try {
          await api.terminateInstances([machine.id]);
          return;
        } catch (err) {
          if (errorCode(err) === "InvalidInstanceID.NotFound") return;
          if (attempt >= 3) {
            // The reconciler terminates it on its next pass: a conclusion is not held back by EC2.
            options.log?.warn({ instanceId: machine.id, err: errorCode(err) }, "terminating the instance failed; the reconciler will retry");
            return;
          }
          await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    },

    reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
      return reconcileInstances({ api, serviceTag: options.serviceTag, maxLifetimeMs, now, runState: deps.runState });
    },

    async close() {
      api.close();
    },
  };

  /** What `start` records for a launched instance, and `find` for an adopted one: one shape for both. */
  function machineOf(l: { instanceId: string; offer: Offer; zone: string; request: Resources; launchedAt: number; tried: string }): Machine {
    const fallback = l.offer.market === "on-demand" && l.request.interruptible;
    return {
      backend: "ec2",
      id: l.instanceId,
      description: `${l.offer.type.instanceType}${gpuLabel(l.offer)} ${l.offer.market}${fallback ? " (no spot capacity: DSTACK_EC2_SPOT_FALLBACK)" : ""} in ${l.zone}, ${l.instanceId}`,
      details: {
        instanceId: l.instanceId,
        instanceType: l.offer.type.instanceType,
        market: l.offer.market,
        zone: l.zone,
        region: config.region ?? "",
        pricePerHour: l.offer.pricePerHour,
        gpuCount: l.offer.type.gpu?.count ?? 0,
        gpuName: l.offer.type.gpu?.name ?? "",
        launchedAt: l.launchedAt,
        tried: l.tried,
      },
    };
  }

  /**
   * EC2 refused a client token because a supervisor that died started an instance under it with
   * other user data (the agent token rotated since) that `find` did not see (DescribeInstances is
   * eventually consistent). Its agent would be refused, so it is terminated and the launch goes on
   * under the next token; one EC2 does not list yet is ended by the reconciler (its run names another machine).
   */
  async function replaceEarlierLaunch(runId: string, clientToken: string): Promise<void> {
    const earlier = await api.describeInstances({ clientToken, states: ["pending", "running"] });
    options.log?.warn({ runId, instanceIds: earlier.map((e) => e.instanceId) }, "replacing an instance launched before a crash with an older run token");
    if (earlier.length > 0) await api.terminateInstances(earlier.map((e) => e.instanceId));
  }

  function runInstancesInput(c: Candidate, input: StartInput, userData: string, clientToken: string): RunInstancesCommandInput {
    const tags = [
      { Key: "Name", Value: `dstack ${input.run.repo} ${input.run.workflow.name}`.slice(0, 255) },
      { Key: "dstack:run-id", Value: input.run.id },
      { Key: "dstack:repo", Value: input.run.repo },
      { Key: "dstack:service", Value: options.serviceTag },
      { Key: ATTEMPT_TAG, Value: String(input.attempt ?? 1) },
      { Key: MARKET_TAG, Value: c.offer.market },
      { Key: PRICE_TAG, Value: String(c.offer.pricePerHour) },
    ];
    const params: RunInstancesCommandInput = {
      ImageId: config.ami,
      InstanceType: c.offer.type.instanceType as RunInstancesCommandInput["InstanceType"],
      MinCount: 1,
      MaxCount: 1,
      // RunInstances does not encode user data itself (TECH-NOTES).
      UserData: userData,
      // IMDSv2 only: user data (the run token) cannot be read by a plain GET through an SSRF.
      MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1 },
      // `shutdown` on the instance (end of run, lost service, lifetime) terminates it.
      InstanceInitiatedShutdownBehavior: "terminate",
      TagSpecifications: [
        { ResourceType: "instance", Tags: tags },
        { ResourceType: "volume", Tags: tags },
      ],
      // The same token on the SDK's own retries and on a crashed supervisor's successor: EC2 answers a
      // repeated request with the instance it already started instead of starting a second one.
      ClientToken: clientToken,
    };
    if (c.subnet !== undefined) params.SubnetId = c.subnet;
    if (config.securityGroups.length > 0) params.SecurityGroupIds = [...config.securityGroups];
    if (config.instanceProfile !== undefined) {
      params.IamInstanceProfile = config.instanceProfile.startsWith("arn:") ? { Arn: config.instanceProfile } : { Name: config.instanceProfile };
    }
    if (config.keyPair !== undefined) params.KeyName = config.keyPair;
    if (c.offer.market === "spot") {
      params.InstanceMarketOptions = {
        MarketType: "spot",
        SpotOptions: {
          SpotInstanceType: "one-time",
          InstanceInterruptionBehavior: "terminate",
          ...(config.maxPricePerHour !== undefined ? { MaxPrice: String(config.maxPricePerHour) } : {}),
        },
      };
    }
    return params;
  }

  async function waitForSlot(input: StartInput, progress: (message: string) => void): Promise<void> {
    let said = false;
    for (;;) {
      const live = await api.describeInstances({ tags: { "dstack:service": options.serviceTag }, states: ["pending", "running"] });
      if (live.length < config.maxInstances) return;
      if (!said) progress(`${live.length} instances are running, the most DSTACK_EC2_MAX_INSTANCES allows; waiting for one to end`);
      said = true;
      if (input.signal?.aborted === true) throw new DstackError("cancelled", "the launch was cancelled while waiting for an instance slot");
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          input.signal?.removeEventListener("abort", done);
          resolve();
        };
        const t = setTimeout(done, options.capacityPollMs ?? 15_000);
        input.signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/**
 * The resources a launch asks for: the workflow's, except that a run resumed after a spot
 * interruption goes on-demand when DSTACK_EC2_RESUME_MARKET says so.
 */
function resumeRequest(input: { run: Pick<Run, "workflow">; attempt?: number }, config: Ec2Config): Resources {
  const resources = input.run.workflow.resources;
  const resumed = (input.attempt ?? 1) > 1;
  return resumed && resources.interruptible && config.resumeMarket === "on-demand" ? { ...resources, interruptible: false } : resources;
}

/**
 * RunInstances' idempotency token for one launch of a run: the same for the same run, attempt and
 * offer (type, market, subnet), so a retry or a crashed supervisor's successor gets the instance
 * EC2 already started; another for each offer (a token reused with other parameters is refused with
 * IdempotentParameterMismatch), attempt (a token stays taken 24 hours past the instance's end) and
 * replacement. At most 64 ASCII characters (EC2's limit):
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
 */
export function launchClientToken(runId: string, attempt: number, c: Pick<Candidate, "offer" | "subnet">, replacement = 0): string {
  const offer = createHash("sha256")
    .update(JSON.stringify([c.offer.type.instanceType, c.offer.market, c.subnet ?? "", replacement]))
    .digest("hex")
    .slice(0, 16);
  const readable = `${runId}-a${attempt}-${offer}`;
  return readable.length <= 64 ? readable : createHash("sha256").update(readable).digest("hex");
}

function label(offer: Offer): string {
  return `${offer.type.instanceType} ${offer.market}`;
}

function gpuLabel(offer: Offer): string {
  return offer.type.gpu === null ? "" : ` (${offer.type.gpu.count}x ${offer.type.gpu.name})`;
}

function sameOffer(a: Candidate, b: Candidate): boolean {
  return a.offer.type.instanceType === b.offer.type.instanceType && a.offer.market === b.offer.market;
}
