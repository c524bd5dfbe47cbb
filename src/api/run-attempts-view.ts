import { machineFacts } from "../runs/machine-facts.js";
import { currentAttempt } from "../runs/run-attempts.js";
import { formatBytes } from "../runs/run-view.js";
import { isTerminal, type Run, type RunAttempt } from "../runs/types.js";
import { formatTime } from "./page-response.js";

/** One row of the run page's attempts table (text only: the template escapes all of it). */
export interface AttemptRow {
  attempt: number;
  /** Instance type on EC2; the machine's description where the backend gives no type. */
  machine: string;
  /** The instance id (EC2) or process id (local), when recorded. */
  machineId?: string;
  market: string;
  zone: string;
  /** When a spot interruption ended it; for the current attempt, how it stands. */
  ended: string;
  checkpoint: string;
}

/**
 * The run's attempts for its page: one row per attempt a spot interruption ended (its machine,
 * market, zone, when it was taken back, the checkpoint set it saved), then the current one. Empty
 * for a run that was never interrupted: the facts table already shows its one machine.
 */
export function attemptRows(run: Run, nowMs: number): AttemptRow[] {
  const earlier = run.attempts ?? [];
  if (earlier.length === 0) return [];
  const rows = earlier.map(interruptedRow);
  const facts = machineFacts(run, nowMs);
  const restored = run.checkpoint !== undefined ? `restored the checkpoint of attempt ${run.checkpoint.attempt}` : "started from the beginning";
  rows.push({
    attempt: currentAttempt(run),
    machine: facts?.instanceType ?? run.machine?.description ?? "waiting for a machine",
    ...(facts !== undefined ? { machineId: facts.instanceId } : {}),
    market: facts?.market ?? "",
    zone: facts?.zone ?? "",
    ended: isTerminal(run.status) ? `ended ${run.status}` : "current",
    checkpoint: restored,
  });
  return rows;
}

function interruptedRow(a: RunAttempt): AttemptRow {
  const saved = a.checkpointFiles > 0 ? `${a.checkpointFiles} file${a.checkpointFiles === 1 ? "" : "s"}, ${formatBytes(a.checkpointBytes)}${a.checkpointSavedAt !== undefined ? `, saved ${formatTime(a.checkpointSavedAt)}` : ""}` : "none saved";
  return {
    attempt: a.attempt,
    machine: a.instanceType ?? a.machine,
    ...(a.machineId !== undefined ? { machineId: a.machineId } : {}),
    market: a.market ?? "",
    zone: a.zone ?? "",
    ended: `interrupted ${formatTime(a.interruptedAt)}`,
    checkpoint: saved,
  };
}
