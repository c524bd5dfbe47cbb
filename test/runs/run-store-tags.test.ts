import { blankWorkflow } from "../../src/workflow/blank-workflow.js";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createFileArtifactStore } from "../../src/artifacts/index.js";
import { RunJournal } from "../../src/runs/run-journal.js";
import { RunStore, type RunJournalSink } from "../../src/runs/run-store.js";
import type { Run } from "../../src/runs/types.js";
import type { Workflow } from "../../src/workflow/types.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

/** Git tags on runs, and which runs still need a supervisor: RunStore against a real Redis. */

let server: TestRedis;
let redis: Redis;
const REPO = "acme/ml";

beforeAll(async () => {
  server = await startRedis("run-store-tags");
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

let n = 0;
function store(journal?: RunJournalSink): RunStore {
  return new RunStore({ redis, prefix: `${server.prefix}-${++n}`, journal });
}

function workflow(name: string): Workflow {
  return { ...blankWorkflow(name, "bash", { file: ".dstack/workflows.yaml", line: 2, column: 5 }), commands: ["true"] };
}

async function finished(s: RunStore, name: string, commit: string, status: "done" | "failed" = "done"): Promise<Run> {
  const { run } = await s.create({
    repo: REPO,
    workflow: workflow(name),
    commit,
    trigger: { kind: "push", actor: "alice" },
    groupId: `g-${name}-${commit}-${Math.random()}`,
    needs: [],
    inputs: [],
    code: { kind: "github" },
    variables: {},
  });
  await s.transition(run.id, status);
  return s.get(run.id);
}

describe("RunStore Git tags", () => {
  it("lists the runs at a commit, oldest first", async () => {
    const s = store();
    const a = await finished(s, "train", "c1");
    const b = await finished(s, "eval", "c1");
    await finished(s, "train", "c2");
    expect((await s.runsAtCommit(REPO, "c1")).map((r) => r.id)).toEqual([a.id, b.id]);
  });

  it("gives a recorded Git tag to a run that succeeds at its commit later, and not to a failed one", async () => {
    const s = store();
    await s.setGitTag(REPO, "v1", "c1");
    const failed = await finished(s, "train", "c1", "failed");
    expect(await s.applyGitTags(failed)).toEqual([]);
    const ok = await finished(s, "train", "c1");
    expect(await s.applyGitTags(ok)).toEqual(["v1"]);
    expect((await s.resolveTag(REPO, "train", "v1"))?.id).toBe(ok.id);
    const elsewhere = await finished(s, "train", "c2");
    expect(await s.applyGitTags(elsewhere)).toEqual([]);
  });

  it("forgets the old commit when a Git tag moves, and takes the tag from every run when it is deleted", async () => {
    const s = store();
    await s.setGitTag(REPO, "v1", "c1");
    await s.setGitTag(REPO, "v1", "c2");
    expect(await s.gitTagCommit(REPO, "v1")).toBe("c2");
    expect(await s.applyGitTags(await finished(s, "train", "c1"))).toEqual([]);
    const train = await finished(s, "train", "c2");
    const evalRun = await finished(s, "eval", "c2");
    await s.applyGitTags(train);
    await s.applyGitTags(evalRun);
    await s.deleteTag(REPO, "v1");
    expect(await s.resolveTag(REPO, undefined, "v1")).toBeUndefined();
    expect(await s.gitTagCommit(REPO, "v1")).toBeUndefined();
    expect((await s.get(train.id)).tags).toEqual([]);
    expect((await s.get(evalRun.id)).tags).toEqual([]);
  });
});

describe("RunStore unconcludedRunIds", () => {
  it("keeps an ended run until its conclusion is published", async () => {
    const s = store();
    const run = await finished(s, "train", "c1");
    expect(await s.activeRunIds()).toEqual([]);
    expect(await s.unconcludedRunIds()).toEqual([run.id]);
    await s.update(run.id, { concluded: true });
    expect(await s.unconcludedRunIds()).toEqual([]);
  });

  it("removes the journal entry only once Redis holds the conclusion and the run left the concluding set", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "run-store-journal-"));
    try {
      const artifacts = createFileArtifactStore({ root: dir, publicUrl: "http://127.0.0.1", signingKey: randomBytes(32) });
      const journal = new RunJournal({ artifacts, prefix: `${server.prefix}-journal`, log: { warn: () => undefined } });
      const seenAtForget: Array<{ concluded: boolean; unconcluded: string[] }> = [];
      const s: RunStore = store({
        record: (entry) => journal.record(entry),
        forget: async (runId) => {
          seenAtForget.push({ concluded: (await s.get(runId)).concluded, unconcluded: await s.unconcludedRunIds() });
          await journal.forget(runId);
        },
      });
      const run = await finished(s, "train", "c1");
      expect((await journal.entries()).map((e) => e.id)).toEqual([run.id]);
      await s.update(run.id, { concluded: true });
      expect(seenAtForget).toEqual([{ concluded: true, unconcluded: [] }]);
      expect(await journal.entries()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
