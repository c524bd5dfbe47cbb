import { isTerminal } from "../../src/runs/types.js";
import type { ReconcileDeps, ReconcileReport } from "../types.js";
import { errorCode } from "./capacity-errors.js";
import type { Ec2Api } from "./ec2-api.js";

export interface ReconcileInstancesDeps extends ReconcileDeps {
  api: Ec2Api;
  /** Only instances tagged `dstack:service` with this value are looked at. */
  serviceTag: string;
  /** An instance older than this is terminated whatever its run (DSTACK_MAX_RUN_MINUTES plus slack). */
  maxLifetimeMs: number;
  now: () => number;
}

/**
 * A launch in flight (RunInstances answered, the run not yet updated) must not look orphaned: an
 * instance younger than this whose run is active but names another machine is left alone.
 */
export const LAUNCH_GRACE_MS = 10 * 60_000;

/**
 * Finds this service's live instances and terminates those whose run is finished or unknown, that
 * serve a run which has since moved to another instance, or that are past their maximum lifetime,
 * so a crashed service (or a failed terminate) never leaks an instance for long. Run by the
 * reconciler job every 2 minutes and at start-up; idempotent and safe in several processes.
 */
export async function reconcileInstances(deps: ReconcileInstancesDeps): Promise<ReconcileReport> {
  const instances = await deps.api.describeInstances({ tags: { "dstack:service": deps.serviceTag } });
  const terminated: ReconcileReport["terminated"] = [];
  for (const instance of instances) {
    if (instance.state === "shutting-down" || instance.state === "terminated") continue;
    const runId = instance.tags["dstack:run-id"];
    const ageMs = instance.launchTime === undefined ? 0 : deps.now() - instance.launchTime.getTime();
    let reason: string | undefined;
    if (ageMs > deps.maxLifetimeMs) {
      reason = `older than its maximum lifetime (${Math.round(deps.maxLifetimeMs / 60_000)} minutes)`;
    } else if (runId === undefined || runId === "") {
      reason = "it has no dstack:run-id tag";
    } else {
      const run = await deps.runState(runId);
      if (run === undefined) reason = `its run ${runId} is unknown`;
      else if (isTerminal(run.status)) reason = `its run ${runId} is ${run.status}`;
      else if (run.machineId !== undefined && run.machineId !== instance.instanceId && ageMs > LAUNCH_GRACE_MS) {
        reason = `its run ${runId} now runs on ${run.machineId}`;
      }
    }
    if (reason !== undefined) terminated.push({ instanceId: instance.instanceId, runId, reason });
  }
  if (terminated.length > 0) await terminateAll(deps.api, terminated.map((t) => t.instanceId));
  return { looked: instances.length, terminated };
}

/** TerminateInstances takes at most this many ids per call (EC2 recommends smaller batches still). */
const TERMINATE_BATCH = 100;

/**
 * Terminates `ids` in batches. EC2 refuses a whole TerminateInstances call when one id of it is
 * unknown (`InvalidInstanceID.NotFound`, e.g. an instance DescribeInstances listed that EC2 already
 * forgot), which would leave every other instance of the batch running: a refused batch is retried
 * one id at a time, unknown ids counting as gone, and the first other error is thrown once all are tried.
 */
async function terminateAll(api: Pick<Ec2Api, "terminateInstances">, ids: string[]): Promise<void> {
  let failure: unknown;
  for (let i = 0; i < ids.length; i += TERMINATE_BATCH) {
    const batch = ids.slice(i, i + TERMINATE_BATCH);
    try {
      await api.terminateInstances(batch);
      continue;
    } catch (err) {
      if (batch.length === 1) {
        if (errorCode(err) !== "InvalidInstanceID.NotFound") failure ??= err;
        continue;
      }
    }
    for (const id of batch) {
      try {
        await api.terminateInstances([id]);
      } catch (err) {
        if (errorCode(err) !== "InvalidInstanceID.NotFound") failure ??= err;
      }
    }
  }
  if (failure !== undefined) throw failure;
}
