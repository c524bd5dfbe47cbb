import { formatBytes } from "./run-view.js";
import type { Interruption, Machine, Run, RunAttempt } from "./types.js";

/**
 * At most this many attempts per run: a run whose spot instances keep being taken back ends
 * `failed` after the fifth interruption instead of looping (and billing) for ever.
 */
export const MAX_RUN_ATTEMPTS = 5;

/** The attempt the run's current agent works for: 1, plus one per earlier interrupted attempt. */
export function currentAttempt(run: Pick<Run, "attempts">): number {
  return (run.attempts?.length ?? 0) + 1;
}

/** What a machine's details say about it (EC2 records instance type, market and zone). */
function machineFacts(machine: Machine | undefined): Pick<RunAttempt, "machine" | "machineId" | "instanceType" | "market" | "zone"> {
  const text = (value: string | number | undefined) => (typeof value === "string" && value !== "" ? value : undefined);
  const facts: Pick<RunAttempt, "machine" | "machineId" | "instanceType" | "market" | "zone"> = { machine: machine?.description ?? "a machine that was never recorded" };
  if (machine !== undefined) facts.machineId = machine.id;
  const instanceType = text(machine?.details.instanceType);
  const market = text(machine?.details.market);
  const zone = text(machine?.details.zone);
  if (instanceType !== undefined) facts.instanceType = instanceType;
  if (market !== undefined) facts.market = market;
  if (zone !== undefined) facts.zone = zone;
  return facts;
}

/** The record of the run's current attempt, ended by `interruption` (its checkpoint set, if it saved one). */
export function interruptedAttempt(run: Run, interruption: Interruption): RunAttempt {
  const saved = run.checkpoint?.attempt === interruption.attempt ? run.checkpoint : undefined;
  const attempt: RunAttempt = {
    attempt: interruption.attempt,
    ...machineFacts(run.machine),
    interruptedAt: interruption.noticedAt,
    checkpointFiles: saved?.files.length ?? 0,
    checkpointBytes: saved?.files.reduce((sum, f) => sum + f.sizeBytes, 0) ?? 0,
  };
  if (saved !== undefined) attempt.checkpointSavedAt = saved.savedAt;
  // What the interrupted machine cost counts in the run's total and its repository's budget.
  for (const k of ["pricePerHour", "gpuCount", "launchedAt"] as const) {
    const v = run.machine?.details[k];
    if (typeof v === "number") attempt[k] = v;
  }
  return attempt;
}

/** `g5.xlarge spot` on EC2; the machine's description elsewhere (`local process 1234 on host`). */
function machineLabel(facts: Pick<RunAttempt, "machine" | "instanceType" | "market">): string {
  return facts.instanceType !== undefined ? `${facts.instanceType}${facts.market !== undefined ? ` ${facts.market}` : ""}` : facts.machine;
}

function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

/** "interrupted on g5.xlarge spot at 12:03 UTC", for the log and the summary. */
export function describeInterruption(attempt: RunAttempt): string {
  return `interrupted on ${machineLabel(attempt)} at ${utcTime(attempt.interruptedAt)}`;
}

/**
 * The run's interruptions in one sentence ("interrupted on g5.xlarge spot at 12:03 UTC, resumed on
 * g5.xlarge on-demand"), and one line per attempt for the summary's list; undefined for a run that
 * was never interrupted.
 */
export function describeAttempts(run: Run): { note: string; lines: string[] } | undefined {
  const earlier = run.attempts ?? [];
  if (earlier.length === 0) return undefined;
  const current = run.machine !== undefined ? machineFacts(run.machine) : undefined;
  const next = (i: number) => earlier[i + 1] ?? current;
  const note = earlier
    .map((a, i) => {
      const after = next(i);
      return `${describeInterruption(a)}, ${after !== undefined ? `resumed on ${machineLabel(after)}` : "resuming"}`;
    })
    .join("; then ");
  const lines = earlier.map((a) => {
    const where = `${machineLabel(a)}${a.zone !== undefined ? ` in ${a.zone}` : ""}`;
    const saved = a.checkpointFiles > 0 ? `checkpoint saved (${a.checkpointFiles} file${a.checkpointFiles === 1 ? "" : "s"}, ${formatBytes(a.checkpointBytes)})` : "no checkpoint saved";
    return `attempt ${a.attempt}: ${where}, interrupted at ${utcTime(a.interruptedAt)}; ${saved}`;
  });
  const last = currentAttempt(run);
  lines.push(`attempt ${last}: ${current !== undefined ? `${machineLabel(current)}${current.zone !== undefined ? ` in ${current.zone}` : ""}` : "waiting for a machine"}${run.status === "done" ? ", finished" : ""}`);
  return { note: note.charAt(0).toUpperCase() + note.slice(1), lines };
}
