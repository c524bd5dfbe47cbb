import { spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Machine } from "../../src/runs/types.js";
import type { MachineState, RunnerBackend, StartInput } from "../types.js";
import { hasAbsoluteArtifacts, type Resources } from "../../src/workflow/index.js";
import { formatMiB } from "../ec2/describe-request.js";
import { detectLocalGpus, refuseGpuRequest, type LocalGpu } from "./local-gpus.js";

export interface LocalBackendOptions {
  /** Per-run folders (`runs/{id}`) and the shared cache live here. */
  dataDir: string;
  /** The agent's entry point; defaults to the built `runners/agent/main.js` next to this file. */
  agentEntry?: string;
  /** Extra environment for agents (tests point pip at a local package folder). */
  env?: Record<string, string | undefined>;
  /** This machine's GPUs; default: what `nvidia-smi` reports at start (none without it). */
  gpus?: LocalGpu[];
}

/** This machine's CPUs and memory, as the local backend's runs share them. */
export function machineSize(): { cpus: number; memoryMiB: number } {
  return { cpus: os.availableParallelism(), memoryMiB: Math.floor(os.totalmem() / 2 ** 20) };
}

/**
 * What a workflow asks for that this machine does not have (`cpu`, `memory`). Not refused: the
 * local backend reserves nothing and a run may well fit in less (a laptop running a workflow
 * written for a cloud GPU box), but the run's log and check run say so, so a slow or killed run
 * has its explanation at the top. GPUs, which a workflow cannot do without, are refused in `check`.
 */
export function resourceNotes(resources: Pick<Resources, "cpu" | "memoryMiB">, machine: { cpus: number; memoryMiB: number }): string[] {
  const notes: string[] = [];
  if (resources.cpu !== undefined && resources.cpu > machine.cpus) {
    notes.push(`note: the workflow asks for ${resources.cpu} CPUs and this machine has ${machine.cpus}; the local backend runs it with what there is`);
  }
  if (resources.memoryMiB !== undefined && resources.memoryMiB > machine.memoryMiB) {
    notes.push(`note: the workflow asks for ${formatMiB(resources.memoryMiB)} of memory and this machine has ${formatMiB(machine.memoryMiB)}; the local backend runs it with what there is`);
  }
  return notes;
}

/** Grace period between SIGTERM and SIGKILL of a stopped run's process group. */
const KILL_GRACE_MS = 5_000;

/**
 * Runs each job's agent as a child process on this machine, in its own process group (so release
 * kills the workflow's whole tree) and detached from the service (so a service restart adopts it
 * instead of killing it). The bare local backend does not isolate runs: absolute artifact paths
 * are refused (they would read and write this machine's own folders).
 */
export function createLocalBackend(options: LocalBackendOptions): RunnerBackend {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const agentEntry = options.agentEntry ?? resolveAgentEntry(here);
  const gpus = options.gpus ?? detectLocalGpus();
  return {
    id: "local",
    check(run) {
      if (hasAbsoluteArtifacts(run.workflow)) {
        return "absolute artifact paths need a backend that isolates the run (ec2); the local backend would write outside the run's folder";
      }
      return refuseGpuRequest(run.workflow.resources.gpu, gpus);
    },
    async start(input: StartInput): Promise<Machine> {
      for (const note of resourceNotes(input.run.workflow.resources, machineSize())) input.progress?.(note);
      const runDir = path.join(options.dataDir, "runs", input.run.id);
      const workDir = path.join(runDir, "work");
      await mkdir(workDir, { recursive: true });
      const logFd = openSync(path.join(runDir, "agent.log"), "a");
      try {
        const child = spawn(process.execPath, [agentEntry], {
          cwd: workDir,
          detached: true,
          stdio: ["ignore", logFd, logFd],
          env: {
            ...process.env,
            ...options.env,
            ...input.agentEnv,
            DSTACK_AGENT_WORKDIR: workDir,
            DSTACK_AGENT_CACHE: path.join(options.dataDir, "cache"),
            DSTACK_AGENT_LAUNCH_RECORD: path.join(runDir, LAUNCHES_FILE),
          },
        });
        // Recorded before anything else can fail or wait, so a supervisor that dies from here on
        // leaves a record its successor finds (`find`) instead of starting a second agent. The agent
        // writes the same line as it starts (DSTACK_AGENT_LAUNCH_RECORD), which covers a supervisor
        // killed between `spawn` and this line (seen once in the scale-out test).
        if (child.pid !== undefined) appendFileSync(path.join(runDir, LAUNCHES_FILE), `${child.pid}\n`);
        await new Promise<void>((resolve, reject) => {
          child.once("spawn", () => resolve());
          child.once("error", reject);
        });
        child.unref();
        return machineOf(child.pid ?? 0, workDir, gpus);
      } finally {
        closeSync(logFd);
      }
    },
    async find(run): Promise<Machine | undefined> {
      const runDir = path.join(options.dataDir, "runs", run.id);
      const pid = lastLaunch(runDir);
      return pid !== undefined && isAlive(pid) ? machineOf(pid, path.join(runDir, "work"), gpus) : undefined;
    },
    async state(machine: Machine): Promise<MachineState> {
      if (machine.details.host !== os.hostname()) return "running"; // another host's process: cannot tell, trust heartbeats
      return isAlive(Number(machine.id)) ? "running" : "gone";
    },
    async release(machine: Machine): Promise<void> {
      if (machine.details.host !== os.hostname()) return;
      // The agent's group, and the workflow step's own group (it outlives a killed agent).
      const workDir = String(machine.details.workDir ?? "");
      const pids = [Number(machine.id), stepPid(workDir)].filter((p) => isAlive(p));
      if (pids.length > 0) {
        for (const pid of pids) signalGroup(pid, "SIGTERM");
        for (let waited = 0; waited < KILL_GRACE_MS && pids.some(isAlive); waited += 100) {
          await new Promise((r) => setTimeout(r, 100));
        }
        for (const pid of pids) signalGroup(pid, "SIGKILL");
      }
      // The agent removes the checkout after its report, but it may be stopped before it does:
      // what the workflow wrote (secrets in files or file names too) must not stay on this disk.
      if (workDir !== "") await rm(path.join(workDir, "repo"), { recursive: true, force: true });
    },
    async close() {
      // Agents keep running on purpose: the next service start adopts their runs.
    },
  };
}

/**
 * Every agent process started for a run, one pid a line, oldest first (`runs/{id}/launches`). A pid
 * appears once or twice (the launcher and the agent both write it); distinct pids are launches.
 */
export const LAUNCHES_FILE = "launches";

function lastLaunch(runDir: string): number | undefined {
  try {
    const pids = readFileSync(path.join(runDir, LAUNCHES_FILE), "utf8").trim().split("\n");
    const pid = Number(pids.at(-1));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function machineOf(pid: number, workDir: string, gpus: LocalGpu[]): Machine {
  return {
    backend: "local",
    id: String(pid),
    description: `local process ${pid} on ${os.hostname()}${gpus.length > 0 ? ` (${gpus.length}× ${gpus[0]?.name})` : ""}`,
    details: {
      pid,
      host: os.hostname(),
      workDir,
      cpus: os.cpus().length,
      memoryMiB: Math.round(os.totalmem() / 1048576),
      gpus: gpus.map((g) => g.name).join(", "),
    },
  };
}

function resolveAgentEntry(here: string): string {
  // Built layout: dist/runners/local/local-backend.js -> dist/runners/agent/main.js. Under tests the
  // sources run from runners/local/, so fall back to the build output at the repository root.
  const sibling = path.join(here, "..", "agent", "main.js");
  if (here.includes(`${path.sep}dist${path.sep}`)) return sibling;
  return path.join(here, "..", "..", "dist", "runners", "agent", "main.js");
}

function stepPid(workDir: string): number {
  if (workDir === "") return 0;
  try {
    return Number(readFileSync(path.join(workDir, "step.pid"), "utf8"));
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

/** A detached child that exited but was not reaped still answers kill(0): read its state. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      /* already gone */
    }
  }
}
