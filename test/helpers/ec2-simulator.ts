import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { create as createTar } from "tar";
import type { Ec2Api, Ec2Instance, RunInstancesCommandInput } from "../../runners/ec2/ec2-api.js";
import { createEc2Backend } from "../../runners/ec2/ec2-backend.js";
import { registerBackend } from "../../runners/index.js";
import { uploadKey, newUploadId } from "../../src/runs/code-upload.js";
import type { Run } from "../../src/runs/types.js";
import type { Service } from "../../src/service.js";
import type { Workflow } from "../../src/workflow/types.js";

/** One simulated instance: its bootstrap runs as `bash` on this machine, in its own folder. */
export interface SimulatedInstance {
  instanceId: string;
  input: RunInstancesCommandInput;
  /** The decoded user data, as the instance would run it. */
  userData: string;
  /** Stands for the instance's disk: DSTACK_HOME of the bootstrap. */
  home: string;
  /** When RunInstances was called (performance.now()). */
  launchedAt: number;
  launchTime: Date;
  process: ChildProcess;
  state: "pending" | "running" | "shutting-down" | "terminated";
  /** Resolves with bash's exit code when the bootstrap ends. */
  exited: Promise<number | null>;
  /** Set when the bootstrap asked to shut the machine down (the fake `shutdown` ran). */
  shutdownRequested(): boolean;
}

/**
 * An `Ec2Api` whose RunInstances "boots" an instance by running the real user data with bash on
 * this machine: HOME, DSTACK_HOME and the shutdown command point into `root`, and a fake
 * `shutdown` (also first on PATH, in case) only leaves a marker, so nothing here ever powers off.
 * Node is on PATH, so the bootstrap skips installing it; everything else (downloading the agent
 * bundle with the run token, starting the agent) is what an instance does.
 */
export function createEc2Simulator(
  root: string,
  options: {
    terminateDelayMs?: number;
    /**
     * The instance's metadata service (DSTACK_AGENT_METADATA_URL), e.g. a `startMetadataServer` URL.
     * Default: a closed local port, so no simulated agent ever reaches a real one (this machine may be on EC2).
     */
    metadataUrl?: (instanceId: string, input: RunInstancesCommandInput) => string;
  } = {},
): { api: Ec2Api; instances: SimulatedInstance[]; terminated: string[] } {
  const bin = path.join(root, "bin");
  mkdirSync(bin, { recursive: true });
  const fakeShutdown = path.join(bin, "shutdown");
  writeFileSync(fakeShutdown, '#!/bin/sh\n: > "$DSTACK_HOME/shutdown-requested"\n');
  chmodSync(fakeShutdown, 0o755);
  for (const name of ["poweroff", "halt", "reboot"]) {
    writeFileSync(path.join(bin, name), "#!/bin/sh\nexit 0\n");
    chmodSync(path.join(bin, name), 0o755);
  }
  const instances: SimulatedInstance[] = [];
  const terminated: string[] = [];
  const find = (id: string) => instances.find((i) => i.instanceId === id);
  const describe = (i: SimulatedInstance): Ec2Instance => {
    const tags: Record<string, string> = {};
    for (const t of i.input.TagSpecifications?.find((s) => s.ResourceType === "instance")?.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? "";
    return { instanceId: i.instanceId, state: i.state, instanceType: i.input.InstanceType, zone: "us-east-1a", launchTime: i.launchTime, tags };
  };
  const api: Ec2Api = {
    async runInstances(input) {
      const instanceId = `i-${(instances.length + 1).toString(16).padStart(17, "0")}`;
      const home = path.join(root, instanceId);
      mkdirSync(home, { recursive: true });
      const userData = Buffer.from(input.UserData ?? "", "base64").toString("utf8");
      const script = path.join(root, `${instanceId}.user-data.sh`);
      writeFileSync(script, userData, { mode: 0o700 });
      const launchedAt = performance.now();
      const child = spawn("bash", [script], {
        cwd: home,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          HOME: home,
          DSTACK_HOME: home,
          DSTACK_SHUTDOWN_COMMAND: fakeShutdown,
          DSTACK_AGENT_METADATA_URL: options.metadataUrl?.(instanceId, input) ?? "http://127.0.0.1:9",
          LANG: "C.UTF-8",
        },
      });
      const console = createWriteStream(path.join(root, `${instanceId}.console.log`));
      child.stdout?.pipe(console, { end: false });
      child.stderr?.pipe(console, { end: false });
      const instance: SimulatedInstance = {
        instanceId,
        input,
        userData,
        home,
        launchedAt,
        launchTime: new Date(),
        process: child,
        state: "pending",
        exited: new Promise((resolve) =>
          child.on("close", (code) => {
            console.end();
            void finished(console).then(() => resolve(code));
          }),
        ),
        shutdownRequested: () => existsSync(path.join(home, "shutdown-requested")),
      };
      child.on("spawn", () => {
        if (instance.state === "pending") instance.state = "running";
      });
      // Shutdown behaviour "terminate": a machine that shut itself down is gone.
      void instance.exited.then(() => {
        if (instance.shutdownRequested()) instance.state = "terminated";
      });
      instances.push(instance);
      return describe(instance);
    },
    async describeInstances(query) {
      if (query.instanceIds !== undefined) return instances.filter((i) => query.instanceIds?.includes(i.instanceId)).map(describe);
      const states = query.states ?? ["pending", "running", "stopping", "stopped"];
      return instances
        .map(describe)
        .filter((i) => states.includes(i.state) && Object.entries(query.tags ?? {}).every(([k, v]) => i.tags[k] === v));
    },
    async terminateInstances(ids) {
      for (const id of ids) {
        terminated.push(id);
        const i = find(id);
        if (i === undefined || i.state === "terminated") continue;
        i.state = "shutting-down";
        // Like EC2, termination takes a moment: a bootstrap that is ending anyway ends on its own.
        setTimeout(() => {
          i.state = "terminated";
          if (i.process.exitCode === null && i.process.signalCode === null && i.process.pid !== undefined) {
            try {
              process.kill(-i.process.pid, "SIGKILL");
            } catch {
              /* the bootstrap already ended */
            }
          }
        }, options.terminateDelayMs ?? 2000).unref();
      }
    },
    async subnetZones() {
      return {};
    },
    async spotPrices() {
      return [];
    },
    close() {
      // Instances are ended by the test (terminateInstances) or by their own shutdown.
    },
  };
  return { api, instances, terminated };
}

/** Makes `DSTACK_BACKEND=ec2` build the real EC2 backend over `api` (for services started after this call). */
export function useSimulatedEc2(api: Ec2Api): void {
  registerBackend("ec2", (o) => {
    if (o.ec2 === undefined) throw new Error("the service passed no EC2 options");
    return createEc2Backend({ ...o.ec2, api, bootTimeoutMs: 60_000 });
  });
}

/** Submits a one-off run of `workflow` on uploaded code (the files of `dir`) and hands it to the supervisor. */
export async function submitUploadRun(service: Pick<Service, "store" | "artifacts" | "queues">, workflow: Workflow, dir: string): Promise<Run> {
  const key = uploadKey(newUploadId());
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ gzip: true, cwd: dir, portable: true }, ["."])) chunks.push(Buffer.from(chunk as Uint8Array));
  await service.artifacts.put(key, Readable.from([Buffer.concat(chunks)]));
  const { run } = await service.store.create({
    repo: "acme/sim",
    workflow,
    commit: "0000000000000000000000000000000000000000",
    trigger: { kind: "api", actor: "api" },
    groupId: `g-${Date.now()}`,
    needs: [],
    inputs: [],
    code: { kind: "upload", key },
    variables: {},
  });
  await service.queues.enqueueRun(run.id);
  return run;
}
