import { DstackError } from "../src/errors.js";
import { createLocalBackend, type LocalBackendOptions } from "./local/local-backend.js";
import type { RunnerBackend } from "./types.js";

export type { RunnerBackend, StartInput, MachineState } from "./types.js";

export interface BackendOptions {
  local: LocalBackendOptions;
}

type Factory = (options: BackendOptions) => RunnerBackend;

/** Backends by id (renovate's platform registry pattern): callers never branch on the id. */
const registry = new Map<string, Factory>([["local", (o) => createLocalBackend(o.local)]]);

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
