import { blankWorkflow } from "../../src/workflow/blank-workflow.js";
import path from "node:path";
import { Readable } from "node:stream";
import { commitRunManifest, runArtifactKey } from "../../src/artifacts/index.js";
import { LogStore } from "../../src/runs/log-store.js";
import type { Run } from "../../src/runs/types.js";
import type { Workflow } from "../../src/workflow/types.js";
import type { TestService } from "./service.js";

/** A bash workflow as the parser would give it, with any name (even one the parser refuses). */
export function bashWorkflow(name: string, commands: string[] = ["true"]): Workflow {
  return { ...blankWorkflow(name, "bash", { file: ".dstack/workflows.yaml", line: 1, column: 1 }), commands };
}

/**
 * Writes a finished run straight into the service's stores (no agent): its log (`log`, or a
 * generator of chunks for huge logs) and artifact files. For page tests that need text no real
 * workflow could produce, and for benchmarks that need a 200 MB log quickly.
 */
export async function seedRun(
  service: TestService,
  prefix: string,
  input: { repo: string; workflow: string; log: string | Iterable<Buffer>; artifacts?: Array<{ path: string; body: Buffer }>;
    status?: Run["status"];
    inputs?: Run["inputs"];
    variables?: Record<string, string>;
  },
): Promise<Run> {
  const { run } = await service.store.create({
    repo: input.repo,
    workflow: bashWorkflow(input.workflow),
    commit: "0123456789abcdef0123456789abcdef01234567",
    trigger: { kind: "api", actor: "api" },
    groupId: `g-${Date.now()}`,
    needs: [],
    inputs: input.inputs ?? [],
    code: { kind: "github" },
    variables: input.variables ?? {},
  });
  const logs = new LogStore({ redis: service.redis, prefix, dir: path.join(service.config.dataDir, "logs") });
  let offset = 0;
  for (const chunk of typeof input.log === "string" ? [Buffer.from(input.log)] : input.log) {
    await logs.append(run.id, offset, chunk);
    offset += chunk.length;
  }
  await service.store.addLogBytes(run.id, offset);
  for (const a of input.artifacts ?? []) await service.artifacts.put(runArtifactKey(run.id, a.path), Readable.from([a.body]));
  await service.store.setArtifacts(run.id, (input.artifacts ?? []).map((a) => ({ path: a.path, sizeBytes: a.body.length })));
  const status = input.status ?? "done";
  // A real run is `done` only with its manifest, which readers trust.
  if (status === "done") await commitRunManifest(service, run.id, (input.artifacts ?? []).map((a) => ({ path: a.path, sizeBytes: a.body.length })));
  await service.store.update(run.id, { startedAt: Date.now() - 5000, ...(status === "done" ? { finishedAt: Date.now(), exitCode: 0 } : {}) });
  if (status !== "submitted") await service.store.transition(run.id, status);
  await logs.close();
  return service.store.get(run.id);
}
