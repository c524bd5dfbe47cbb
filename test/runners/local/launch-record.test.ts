import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLocalBackend, LAUNCHES_FILE } from "../../../runners/local/local-backend.js";
import { loadWorkflows } from "../../../src/workflow/index.js";
import type { Run } from "../../../src/runs/types.js";

/**
 * The local backend's launch record (`runs/{id}/launches`) is how a supervisor that took over a run
 * finds the agent its dead predecessor started. The launcher writes the agent's pid right after
 * `spawn` returns, and the agent writes it again as it starts, so a launcher killed between the two
 * (seen once in the scale-out test: a run done, its agent unrecorded) still leaves a record.
 */

const AGENT = path.join(process.cwd(), "dist", "runners", "agent", "main.js");
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-launch-record-"));
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

const workflow = () => {
  const w = loadWorkflows([{ path: ".dstack/workflows.yaml", text: "workflows:\n  - name: w\n    provider: bash\n    commands: [sleep 30]\n" }]).workflows[0];
  if (w === undefined) throw new Error("the workflow did not load");
  return w;
};
const runOf = (id: string): Pick<Run, "id" | "workflow"> => ({ id, workflow: workflow() });
// No service answers here: the agent records itself, then waits for its job (and is killed by the test).
const agentEnv = (id: string) => ({ DSTACK_AGENT_URL: "http://127.0.0.1:9", DSTACK_AGENT_RUN_ID: id, DSTACK_AGENT_TOKEN: "t".repeat(32) });

async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const recorded = (id: string) => {
  const file = path.join(dir, "runs", id, LAUNCHES_FILE);
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : [];
};

describe("local launch record", () => {
  it("holds the agent's pid from the launcher and from the agent itself: one launch, found, then released", async () => {
    const backend = createLocalBackend({ dataDir: dir, gpus: [] });
    const run = runOf("launched-normally");
    const machine = await backend.start({ run: run as Run, agentEnv: agentEnv(run.id), signal: new AbortController().signal, progress: () => undefined, attempt: 1 });
    await until(() => recorded(run.id).length === 2, "the agent's own line");
    expect(recorded(run.id)).toEqual([machine.id, machine.id]);
    expect((await backend.find?.(run, 1))?.id).toBe(machine.id);
    await backend.release(machine);
    expect(await backend.state(machine)).toBe("gone");
    expect(await backend.find?.(run, 1)).toBeUndefined();
  });

  it("lets a successor find an agent whose launcher died before recording it", async () => {
    const id = "launcher-killed";
    const runDir = path.join(dir, "runs", id);
    await mkdir(path.join(runDir, "work"), { recursive: true });
    // The launcher's spawn, without the launcher's line (it was killed right after spawn returned).
    const agent = spawn(process.execPath, [AGENT], {
      cwd: path.join(runDir, "work"),
      stdio: "ignore",
      env: { ...process.env, ...agentEnv(id), DSTACK_AGENT_WORKDIR: path.join(runDir, "work"), DSTACK_AGENT_CACHE: path.join(dir, "cache"), DSTACK_AGENT_LAUNCH_RECORD: path.join(runDir, LAUNCHES_FILE) },
    });
    children.push(agent);
    const exited = new Promise((resolve) => agent.once("exit", (code, signal) => resolve(signal ?? code)));
    await until(() => recorded(id).length === 1, "the agent's line");
    expect(recorded(id)).toEqual([String(agent.pid)]);
    const successor = createLocalBackend({ dataDir: dir, gpus: [] });
    const found = await successor.find?.(runOf(id), 1);
    expect(found).toMatchObject({ backend: "local", id: String(agent.pid) });
    if (found !== undefined) await successor.release(found);
    // Released: its process group was signalled, so the agent is gone.
    expect(await exited).not.toBeUndefined();
    expect(await successor.find?.(runOf(id), 1)).toBeUndefined();
  });
});
