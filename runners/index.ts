import { DstackError } from "../src/errors.js";
import { createEc2Backend, type Ec2BackendOptions } from "./ec2/ec2-backend.js";
import { createLocalBackend, type LocalBackendOptions } from "./local/local-backend.js";
import type { RunnerBackend } from "./types.js";

export type { RunnerBackend, StartInput, MachineState, ReconcileDeps, ReconcileReport } from "./types.js";

export interface BackendOptions {
  local: LocalBackendOptions;
  ec2?: Ec2BackendOptions;
}

type Factory = (options: BackendOptions) => RunnerBackend;

/** Backends by id (renovate's platform registry pattern): callers never branch on the id. */
const registry = new Map<string, Factory>([
  ["local", (o) => createLocalBackend(o.local)],
  [
    "ec2",
    (o) => {
      if (o.ec2 === undefined) throw new DstackError("config", "DSTACK_BACKEND=ec2 needs the EC2 settings (DSTACK_EC2_*, AWS_REGION)");
      return createEc2Backend(o.ec2);
    },
  ],
]);

export function registerBackend(id: string, factory: Factory): void {
  registry.set(id, factory);
}

export function createBackend(id: string, options: BackendOptions): RunnerBackend {
  const factory = registry.get(id);
  if (factory === undefined) {
    throw new DstackError("config", `DSTACK_BACKEND=${id} is not available here; known backends: ${[...registry.keys()].join(", ")}`);
  }
  return factory(options);
}
