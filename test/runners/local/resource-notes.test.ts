import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLocalBackend, machineSize, resourceNotes } from "../../../runners/local/local-backend.js";
import type { Run } from "../../../src/runs/types.js";
import { loadWorkflows } from "../../../src/workflow/index.js";

/**
 * The local backend runs a workflow that asks for more CPUs or memory than the machine has (a file
 * written for a cloud GPU box, run on a laptop), and says so where the user looks first: the
 * provisioning notes, which go to the top of the run's log and to its check run.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-resource-notes-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const workflow = (resources: string) => {
  const text = `workflows:\n  - name: w\n    provider: bash\n    commands: [sleep 30]\n    resources: ${resources}\n`;
  const w = loadWorkflows([{ path: ".dstack/workflows.yaml", text }]).workflows[0];
  if (w === undefined) throw new Error("the workflow did not load");
  return w;
};

describe("local backend resource notes", () => {
  it("names CPUs and memory beyond the machine's, and nothing for what fits", () => {
    const machine = { cpus: 2, memoryMiB: 7982 };
    expect(resourceNotes(workflow("{cpu: 8, memory: 64GB}").resources, machine)).toEqual([
      "note: the workflow asks for 8 CPUs and this machine has 2; the local backend runs it with what there is",
      "note: the workflow asks for 64 GB of memory and this machine has 7.8 GB; the local backend runs it with what there is",
    ]);
    expect(resourceNotes(workflow("{cpu: 2, memory: 512MB}").resources, machine)).toEqual([]);
    expect(resourceNotes(workflow("{shm_size: 1GB}").resources, machine)).toEqual([]);
  });

  it("reports them as the run starts, and starts it all the same", async () => {
    const backend = createLocalBackend({ dataDir: dir, gpus: [] });
    const { cpus } = machineSize();
    const run = { id: "too-big", workflow: workflow(`{cpu: ${cpus + 1}, memory: 100000GB}`) } as Run;
    const notes: string[] = [];
    // No service answers at this address: the agent starts, waits for its job, and is released.
    const agentEnv = { DSTACK_AGENT_URL: "http://127.0.0.1:9", DSTACK_AGENT_RUN_ID: run.id, DSTACK_AGENT_TOKEN: "t".repeat(32) };
    const machine = await backend.start({ run, agentEnv, signal: new AbortController().signal, progress: (m) => notes.push(m), attempt: 1 });
    try {
      expect(notes).toEqual([
        `note: the workflow asks for ${cpus + 1} CPUs and this machine has ${cpus}; the local backend runs it with what there is`,
        expect.stringMatching(/^note: the workflow asks for 100000 GB of memory and this machine has [0-9.]+ GB; the local backend runs it with what there is$/),
      ]);
      expect(await backend.state(machine)).toBe("running");
    } finally {
      await backend.release(machine);
    }
  });
});
