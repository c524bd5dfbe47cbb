import { runLogKey, type ArtifactStore } from "../artifacts/index.js";
import { DstackError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { RunnerBackend } from "../../runners/types.js";
import type { LogStore } from "./log-store.js";
import type { RunPublisher } from "./publisher.js";
import type { RunStore } from "./run-store.js";
import { currentAttempt, describeInterruption, interruptedAttempt, MAX_RUN_ATTEMPTS } from "./run-attempts.js";
import type { TestPointHook } from "./test-point.js";
import { isTerminal, type Run, type RunStatus } from "./types.js";

export interface SuperviseOptions {
  maxRunMinutes: number;
  /** An agent silent for longer than this is lost (default 30 s). */
  heartbeatLeaseMs: number;
  /** Minimum time between two log-tail publications of one run (default 3 s). */
  publishIntervalMs: number;
  /** How often the supervisor looks at the run (default 500 ms). */
  pollMs: number;
  /** Bytes of log tail handed to publishers. */
  tailBytes: number;
}

export const DEFAULT_SUPERVISE_OPTIONS: Omit<SuperviseOptions, "maxRunMinutes"> = {
  heartbeatLeaseMs: 30_000,
  publishIntervalMs: 3_000,
  pollMs: 500,
  tailBytes: 60_000,
};

export interface SuperviseDeps {
  store: RunStore;
  logs: LogStore;
  artifacts: ArtifactStore;
  backend: RunnerBackend;
  publisherFor(run: Run): Promise<RunPublisher>;
  /** Environment that lets the agent reach this service for `run` with `token`. */
  agentEnv(run: Run, token: string): Record<string, string>;
  enqueueRun(runId: string): Promise<void>;
  /**
   * The budget gate (DSTACK_EC2_BUDGET_PER_DAY): why `run` must wait for a writer's approval before
   * it gets a machine, or undefined when it may start. Absent: every run may start.
   */
  admission?(run: Run): Promise<string | undefined>;
  /** Not bound to the run: every line names `runId` itself (a bound child would write the key twice). */
  log: Pick<Logger, "info" | "warn" | "error">;
  options: SuperviseOptions;
  now?: () => number;
  /**
   * How long to wait before publishing a conclusion again after `err` (`attempt` 1 = first retry),
   * or undefined when retrying cannot help. Default: 1 s doubling up to 60 s, for 10 tries.
   */
  retryDelayMs?(err: unknown, attempt: number): number | undefined;
  /** Fault tests hold the supervisor at these moments to kill its process there. */
  testPoint?: TestPointHook;
}

/** A conclusion is published within about half an hour of GitHub coming back, or given up on. */
const MAX_CONCLUDE_ATTEMPTS = 40;

function defaultRetryDelayMs(_err: unknown, attempt: number): number | undefined {
  return attempt <= 10 ? Math.min(60_000, 1000 * 2 ** (attempt - 1)) : undefined;
}

/** Thrown when the process shuts down mid-run: the run is left as it is for another process to adopt. */
export class SupervisionInterrupted extends Error {}

/**
 * Drives one run from `submitted` to a published conclusion, and adopts a run in any state after
 * a crash: every step reads the run from Redis and moves it with compare-and-set transitions, so
 * two supervisors of the same run can never both launch or both conclude it.
 */
export async function superviseRun(deps: SuperviseDeps, runId: string, signal: AbortSignal): Promise<void> {
  const now = deps.now ?? Date.now;
  let run = await deps.store.find(runId);
  if (run === undefined) return;
  if (run.concluded) {
    // The reaper hands over a concluded run only when it is still among the unconcluded ones.
    await deps.store.settleConcluded(runId);
    return;
  }
  const log = deps.log;
  log.info({ runId, status: run.status, machine: run.machine?.id }, "supervising run");
  // Ended before this supervisor started (its predecessor died around the conclusion): the
  // conclusion may be out already, so the publisher looks before it publishes again.
  const endedBefore = isTerminal(run.status);

  if (run.status === "submitted") {
    await deps.testPoint?.("queued", run);
    const ready = run.stopRequested !== undefined ? "stop" : await checkNeeds(deps, run);
    if (ready === "wait") return;
    if (ready === "stop") {
      // Stopped while it waited for its dependencies: it never gets a machine.
      await deps.store.transition(run.id, "stopped", { from: ["submitted"], patch: { reason: run.stopRequested } });
    } else if (ready !== "ok") {
      await deps.store.transition(run.id, "failed", { from: ["submitted"], patch: { reason: ready } });
    } else {
      const refusal = deps.backend.check(run);
      if (refusal !== undefined) {
        await deps.store.transition(run.id, "failed", { from: ["submitted"], patch: { reason: refusal } });
      } else if (await waitsForApproval(deps, run)) {
        return;
      } else if (await deps.store.transition(run.id, "provisioning", { from: ["submitted"], patch: { heartbeatAt: now() } })) {
        await launch(deps, await deps.store.get(run.id), signal);
      }
    }
    run = await deps.store.get(runId);
  } else if (run.machine === undefined && !isTerminal(run.status)) {
    await adoptOrLaunch(deps, run, signal);
    run = await deps.store.get(runId);
  }

  const publisher = await deps.publisherFor(run);
  let lastPublishedBytes = -1;
  let lastPublishedStatus: RunStatus | undefined;
  let lastPublishAt = 0;
  while (!isTerminal(run.status)) {
    if (signal.aborted) throw new SupervisionInterrupted("shutting down; another process adopts the run");
    const t = now();
    const startedAt = run.startedAt ?? run.createdAt;
    if (run.stopRequested !== undefined) {
      await endRun(deps, run, run.stopRequested.startsWith("timed out") ? "timed_out" : "stopped", run.stopRequested);
    } else if (t - startedAt > deps.options.maxRunMinutes * 60_000) {
      await endRun(deps, run, "timed_out", `timed out after ${deps.options.maxRunMinutes} minutes (DSTACK_MAX_RUN_MINUTES)`);
    } else if (run.interruption?.reportedAt !== undefined) {
      await resumeAfterInterruption(deps, run, signal);
    } else if (run.machine !== undefined || run.status === "running" || run.status === "uploading") {
      const silentMs = t - (run.heartbeatAt ?? startedAt);
      // An agent that reported without its machine being recorded: only its heartbeats tell.
      const state = run.machine === undefined ? "running" : await deps.backend.state(run.machine);
      // Until the agent reports, the machine may still be booting (an EC2 instance takes minutes).
      const leaseMs = run.status === "provisioning" ? Math.max(deps.options.heartbeatLeaseMs, deps.backend.bootTimeoutMs ?? 0) : deps.options.heartbeatLeaseMs;
      if (state === "gone" || silentMs > leaseMs) {
        // The agent reports its end before it exits, so a run still active here is really lost.
        const fresh = await deps.store.get(run.id);
        if (!isTerminal(fresh.status) && fresh.interruption !== undefined) {
          // The spot instance was taken back before its agent reported: resume from the last complete checkpoint set.
          await resumeAfterInterruption(deps, fresh, signal);
        } else if (!isTerminal(fresh.status)) {
          const why = state === "gone" ? "the runner process exited without reporting" : `no heartbeat for ${Math.round(silentMs / 1000)} s`;
          log.warn({ runId: run.id, why }, "runner lost");
          await endRun(deps, fresh, "failed", `runner lost: ${why}`);
        }
      }
    }
    run = await deps.store.get(runId);
    if (isTerminal(run.status)) break;
    const changed = run.logBytes !== lastPublishedBytes || run.status !== lastPublishedStatus;
    if (changed && t - lastPublishAt >= deps.options.publishIntervalMs && run.status !== "provisioning") {
      lastPublishAt = t;
      lastPublishedBytes = run.logBytes;
      lastPublishedStatus = run.status;
      await publishProgress(deps, publisher, run);
    }
    await sleep(deps.options.pollMs, signal);
    run = await deps.store.get(runId);
  }
  await conclude(deps, run, publisher, signal, endedBefore);
}

/**
 * The supervisor before this one died between moving the run on and recording its machine: the
 * agent it started, if the backend finds it, is adopted (its token stays valid); a run still in
 * `provisioning` without one is launched (the token rotates, so a half-started agent the backend
 * could not see is refused and stops by itself). A reporting agent without a recorded machine is
 * left to the heartbeat lease.
 */
async function adoptOrLaunch(deps: SuperviseDeps, run: Run, signal: AbortSignal): Promise<void> {
  const found = await deps.backend.find?.(run, currentAttempt(run));
  if (found !== undefined) {
    await deps.store.update(run.id, { machine: found, heartbeatAt: Math.max(run.heartbeatAt ?? 0, (deps.now ?? Date.now)()) });
    deps.log.info({ runId: run.id, machine: found.description }, "adopted the machine started before a crash");
  } else if (run.status === "provisioning") {
    await launch(deps, run, signal);
  }
}

/** Shows the run's state and log tail; a failed update never fails a run (the next one tries again). */
async function publishProgress(deps: SuperviseDeps, publisher: RunPublisher, run: Run): Promise<void> {
  try {
    await publisher.progress(run, await deps.logs.tail(run.id, deps.options.tailBytes));
  } catch (err) {
    deps.log.warn({ runId: run.id, err }, "publishing progress failed");
  }
}

/**
 * Holds a run whose repository is over its daily budget in `submitted` until a writer approves it
 * (`/dstack approve`, the API), saying why in its check run. The reaper supervises it again now and
 * then, so it also starts by itself once the budget allows (a new UTC day).
 */
async function waitsForApproval(deps: SuperviseDeps, run: Run): Promise<boolean> {
  if (deps.admission === undefined || run.approval?.state === "approved") return false;
  const message = await deps.admission(run);
  if (message === undefined) return false;
  // Approved while the budget was summed: go on (the approval is never written over).
  if (!(await deps.store.holdForApproval(run.id, message))) return false;
  // Published once: the reaper's later looks do not update the check run again.
  if (run.approval?.state !== "waiting") {
    deps.log.info({ runId: run.id, message }, "run waits for approval");
    await publishProgress(deps, await deps.publisherFor(run), await deps.store.get(run.id));
  }
  return true;
}

async function checkNeeds(deps: SuperviseDeps, run: Run): Promise<"ok" | "wait" | string> {
  for (const id of run.needs) {
    const need = await deps.store.find(id);
    if (need === undefined) return `dependency run ${id} does not exist`;
    if (!isTerminal(need.status)) return "wait";
    if (need.status !== "done") return dependencyEndedReason(need.workflow.name, need.status);
  }
  return "ok";
}

/** Why a dependent never started, in the words: "dependency download failed". */
function dependencyEndedReason(workflow: string, status: RunStatus): string {
  switch (status) {
    case "failed":
      return `dependency ${workflow} failed`;
    case "stopped":
      return `dependency ${workflow} was stopped`;
    case "timed_out":
      return `dependency ${workflow} timed out`;
    default:
      return `dependency ${workflow} ended ${status}`;
  }
}

async function launch(deps: SuperviseDeps, run: Run, signal: AbortSignal): Promise<void> {
  const token = await deps.store.rotateToken(run.id);
  // Each machine's boot time runs from here to its agent's first request.
  await deps.store.startBoot(run.id, (deps.now ?? Date.now)());
  // Provisioning steps a user should see ("no g5.xlarge capacity in us-east-1a, trying us-east-1b")
  // go to the run's log, one after the other, before the agent's first line, and to the run's
  // notes, which its check run shows at once (the summary lists them all at the end).
  let logged = Promise.resolve();
  const notes = [...(run.provisioningNotes ?? [])];
  let queued = 0;
  let publisher: Promise<RunPublisher> | undefined;
  const progress = (message: string) => {
    deps.log.info({ runId: run.id, message }, "provisioning");
    notes.push(message);
    queued++;
    logged = logged
      .then(async () => {
        // A burst of messages (EC2 answering fast) makes one check-run update that shows them all.
        const last = --queued === 0;
        await appendLogLine(deps, run.id, `[dstack] ${message}\n`);
        await deps.store.update(run.id, { provisioningNotes: [...notes] });
        if (!last) return;
        publisher ??= deps.publisherFor(run);
        await publishProgress(deps, await publisher, await deps.store.get(run.id));
      })
      .catch((err: unknown) => deps.log.warn({ runId: run.id, err }, "recording a provisioning message failed"));
  };
  const launching = launchSignal(deps, run.id, signal);
  try {
    const machine = await deps.backend.start({ run, agentEnv: deps.agentEnv(run, token), signal: launching.signal, progress, attempt: currentAttempt(run) });
    await deps.testPoint?.("launched", run);
    await logged;
    await deps.store.update(run.id, { machine, heartbeatAt: (deps.now ?? Date.now)() });
    deps.log.info({ runId: run.id, machine: machine.description }, "machine ready");
  } catch (err) {
    await logged;
    // A launch that a shutdown cancelled (EC2 waiting for an instance slot, or between offers) is no
    // failure of the run: it stays `provisioning` without a machine, and the adopter launches again.
    if (err instanceof DstackError && err.code === "cancelled") {
      if (signal.aborted) throw new SupervisionInterrupted("shutting down during the launch; another process adopts the run");
      // Stopped by a user while launching: the supervisor's loop ends the run `stopped` (no machine to release).
      if (launching.stopRequested()) return;
    }
    const message = err instanceof Error ? err.message : String(err);
    await deps.store.transition(run.id, "failed", { patch: { reason: `could not start a runner: ${message}` } });
  } finally {
    launching.dispose();
  }
}

/** How often a launch in progress looks for a stop asked for meanwhile (EC2 may wait minutes for an instance slot). */
const LAUNCH_STOP_POLL_MS = 1_000;

/**
 * The signal a launch runs under: aborted by a shutdown (`signal`) or by a stop a user asked for
 * meanwhile, so that a run stopped while EC2 waits for an instance slot (DSTACK_EC2_MAX_INSTANCES)
 * ends at once instead of booting an instance, once a slot frees, only to terminate it.
 */
function launchSignal(deps: Pick<SuperviseDeps, "store">, runId: string, signal: AbortSignal): { signal: AbortSignal; stopRequested(): boolean; dispose(): void } {
  const controller = new AbortController();
  let stopRequested = false;
  const onShutdown = () => controller.abort();
  if (signal.aborted) controller.abort();
  else signal.addEventListener("abort", onShutdown, { once: true });
  const timer = setInterval(() => {
    deps.store.get(runId).then(
      (r) => {
        if (r.stopRequested === undefined) return;
        stopRequested = true;
        controller.abort();
      },
      () => undefined, // Redis did not answer: look again at the next poll.
    );
  }, LAUNCH_STOP_POLL_MS);
  timer.unref();
  return {
    signal: controller.signal,
    stopRequested: () => stopRequested,
    dispose() {
      clearInterval(timer);
      signal.removeEventListener("abort", onShutdown);
    },
  };
}

/**
 * A spot interruption is not a failure: the attempt is recorded (machine, time, checkpoint set), its
 * machine released, and the run goes back to `provisioning` for a new attempt on a new machine,
 * whose agent restores the checkpoint set before the workflow starts. One transition records the
 * attempt and clears the notice and the machine, so a supervisor that dies here resumes it once.
 */
async function resumeAfterInterruption(deps: SuperviseDeps, run: Run, signal: AbortSignal): Promise<void> {
  if (run.interruption === undefined) return;
  const ended = interruptedAttempt(run, run.interruption);
  const attempts = [...(run.attempts ?? []), ended];
  // Released before the run moves on, so nothing (`find` after a crash, the reconciler) takes it for the new attempt's machine.
  if (run.machine !== undefined) await deps.backend.release(run.machine);
  if (attempts.length >= MAX_RUN_ATTEMPTS) {
    const reason = `${describeInterruption(ended)}: the run was interrupted ${attempts.length} times, the most it is resumed after`;
    await deps.store.transition(run.id, "failed", { patch: { attempts, interruption: null, reason } });
    return;
  }
  const from = ["provisioning", "running", "uploading"] as const;
  if (!(await deps.store.transition(run.id, "provisioning", { from, patch: { attempts, interruption: null, machine: null, heartbeatAt: (deps.now ?? Date.now)() } }))) return;
  const restore = run.checkpoint !== undefined ? `from the checkpoint of attempt ${run.checkpoint.attempt} (${run.checkpoint.files.length} file(s))` : "from the beginning (no checkpoint was saved)";
  deps.log.info({ runId: run.id, attempt: attempts.length + 1, interrupted: ended.machine }, "resuming an interrupted run");
  await appendLogLine(deps, run.id, `[dstack] ${describeInterruption(ended)}; resuming in attempt ${attempts.length + 1} of at most ${MAX_RUN_ATTEMPTS}, ${restore}\n`);
  await launch(deps, await deps.store.get(run.id), signal);
  const resumed = await deps.store.get(run.id);
  if (resumed.machine !== undefined) await appendLogLine(deps, run.id, `[dstack] resumed on ${resumed.machine.description}\n`);
}

async function appendLogLine(deps: Pick<SuperviseDeps, "store" | "logs">, runId: string, line: string): Promise<void> {
  const data = Buffer.from(line);
  await deps.logs.append(runId, (await deps.store.get(runId)).logBytes, data);
  await deps.store.addLogBytes(runId, data.length);
}

async function endRun(deps: SuperviseDeps, run: Run, status: RunStatus, reason: string): Promise<void> {
  if (run.machine !== undefined) await deps.backend.release(run.machine);
  await deps.store.transition(run.id, status, { patch: { reason } });
}

async function conclude(deps: SuperviseDeps, run: Run, publisher: RunPublisher, signal: AbortSignal, mayBePublished: boolean): Promise<void> {
  if (run.machine !== undefined) await deps.backend.release(run.machine);
  await deps.logs.finish(run.id);
  const file = deps.logs.openFile(run.id);
  if (file !== undefined) {
    await deps.artifacts.put(runLogKey(run.id), file).catch((err: unknown) => {
      deps.log.warn({ runId: run.id, err }, "keeping the full log in the artifact store failed");
    });
  }
  if (run.status === "done") {
    await deps.store.markLatestSuccess(run);
    // Git tags pushed while the run was going name it too (`depends-on: [train:v1]`).
    await deps.store.applyGitTags(run);
  }
  await publishConclusion(deps, run, publisher, signal, mayBePublished);
  await deps.testPoint?.("concluding", run);
  await deps.store.update(run.id, { concluded: true });
  deps.log.info({ runId: run.id, status: run.status, reason: run.reason }, "run concluded");
  // Wake the runs that wait on this one: they start, or fail because this one did not succeed.
  for (const other of await deps.store.groupRuns(run.groupId)) {
    if (other.needs.includes(run.id) && other.status === "submitted") await deps.enqueueRun(other.id);
  }
}

/**
 * The final check-run update must not be lost: while GitHub fails transiently it is tried again
 * with backoff, and the run stays `concluded: false` (a shutdown leaves it to the reaper, which
 * hands it to another supervisor). A permanent refusal (the check run was deleted) is logged.
 */
async function publishConclusion(deps: SuperviseDeps, run: Run, publisher: RunPublisher, signal: AbortSignal, mayBePublished: boolean): Promise<void> {
  const retryDelayMs = deps.retryDelayMs ?? defaultRetryDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await publisher.conclude(run, await deps.logs.tail(run.id, deps.options.tailBytes), { mayBePublished });
      return;
    } catch (err) {
      const delay = attempt < MAX_CONCLUDE_ATTEMPTS ? retryDelayMs(err, attempt) : undefined;
      if (delay === undefined) {
        deps.log.error({ runId: run.id, err, attempts: attempt }, "the run's conclusion could not be published; giving up");
        return;
      }
      deps.log.warn({ runId: run.id, err, attempt, delayMs: delay }, "publishing the conclusion failed; trying again");
      await sleep(delay, signal);
      if (signal.aborted) throw new SupervisionInterrupted("shutting down before the conclusion was published; another process adopts the run");
    }
  }
}

/**
 * Waits `ms`, or less when `signal` aborts. An abort that came first (a shutdown that aborted this
 * request's wait in the rate gate, then the supervisor) ends it at once: no "abort" event fires
 * for a signal that is aborted already, and the wait is up to a minute after a rate limit.
 */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
