import type { Machine, Run, RunStatus } from "../src/runs/types.js";

/** What a backend needs to boot the runner agent for one run. */
export interface StartInput {
  run: Pick<Run, "id" | "repo" | "workflow">;
  /** Environment for the agent: service URL, run id and its run-scoped token. */
  agentEnv: Record<string, string>;
  /**
   * 1 for a run's first machine; more when a spot interruption ended the earlier attempts (the EC2
   * backend may then resume on on-demand: DSTACK_EC2_RESUME_MARKET). Default 1.
   */
  attempt?: number;
  /** Reports progress a user should see ("no capacity in us-east-1a, trying us-east-1b"). */
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/** Whether the machine of a run still exists and runs its agent. */
export type MachineState = "running" | "gone";

/**
 * A place where runs execute. `local` (a child process) and `ec2` (an instance per run) register
 * by id; callers never branch on which. Every method is safe to call again after a crash.
 */
export interface RunnerBackend {
  readonly id: string;
  /** How long a started machine may take before its agent's first heartbeat (default: the normal heartbeat lease). */
  readonly bootTimeoutMs?: number;
  /** Refuses, with a user-facing message, what this backend cannot run (e.g. absolute artifact paths). */
  check(run: Pick<Run, "workflow">): string | undefined;
  /** Provides a machine and starts the agent on it. */
  start(input: StartInput): Promise<Machine>;
  /**
   * The machine an earlier `start` for this run left running, if any: a supervisor that died
   * between starting a machine and recording it leaves one, which its successor adopts instead of
   * starting a second agent. `attempt` is the run's current attempt (`StartInput.attempt`): a
   * machine of an interrupted earlier attempt is not it. Backends that cannot tell leave it out.
   */
  find?(run: Pick<Run, "id" | "workflow">, attempt: number): Promise<Machine | undefined>;
  /** Whether the machine is still there (for adoption after a service restart, and lost-agent detection). */
  state(machine: Machine): Promise<MachineState>;
  /** Stops the agent and releases the machine; idempotent. */
  release(machine: Machine): Promise<void>;
  /**
   * Backends whose machines can outlive the service (cloud instances) find and end the orphans:
   * machines whose run is over or unknown, or past their lifetime. Run periodically by a job.
   */
  reconcile?(deps: ReconcileDeps): Promise<ReconcileReport>;
  close(): Promise<void>;
}

export interface ReconcileDeps {
  /** The run's status and machine id, or undefined when no such run exists. */
  runState(runId: string): Promise<{ status: RunStatus; machineId?: string } | undefined>;
}

export interface ReconcileReport {
  /** Machines of this service that were looked at. */
  looked: number;
  terminated: Array<{ instanceId: string; runId?: string; reason: string }>;
}
