import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLocalBackend } from "../../../runners/local/local-backend.js";
import { detectLocalGpus, parseNvidiaSmiCsv, refuseGpuRequest, type LocalGpu } from "../../../runners/local/local-gpus.js";
import { loadWorkflows } from "../../../src/workflow/index.js";
import type { Workflow } from "../../../src/workflow/types.js";
import { startGitHubDouble, type GitHubDouble } from "../../helpers/github-double.js";
import { startRedis, type TestRedis } from "../../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../../helpers/webhooks.js";

const H200: LocalGpu = { index: 0, name: "NVIDIA H200", memoryMiB: 143771 };
const K80: LocalGpu = { index: 1, name: "Tesla K80", memoryMiB: 11441 };

function workflow(resources: string): Workflow {
  const text = `workflows:\n  - name: w\n    provider: bash\n    commands: [nvidia-smi]\n${resources}`;
  const result = loadWorkflows([{ path: ".dstack/workflows.yaml", text }]);
  const w = result.workflows[0];
  if (w === undefined) throw new Error(JSON.stringify(result.problems));
  return w;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-gpus-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("local GPUs", () => {
  it("reads nvidia-smi's csv, names with commas included", () => {
    expect(parseNvidiaSmiCsv("0, NVIDIA H200, 143771\n1, Tesla K80, 11441\n\n")).toEqual([H200, K80]);
    expect(parseNvidiaSmiCsv("0, Weird, Name, 1024\n")).toEqual([{ index: 0, name: "Weird, Name", memoryMiB: 1024 }]);
    expect(parseNvidiaSmiCsv("No devices were found\n")).toEqual([]);
  });

  it("asks the real nvidia-smi program on PATH, and finds none when it is missing or fails", async () => {
    const fake = path.join(dir, "nvidia-smi");
    await writeFile(fake, '#!/bin/sh\n[ "$1" = "--query-gpu=index,name,memory.total" ] || exit 9\necho "0, NVIDIA H200, 143771"\n');
    await chmod(fake, 0o755);
    expect(detectLocalGpus(fake)).toEqual([H200]);
    expect(detectLocalGpus(path.join(dir, "missing"))).toEqual([]);
    const failing = path.join(dir, "failing");
    await writeFile(failing, "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n");
    await chmod(failing, 0o755);
    expect(detectLocalGpus(failing)).toEqual([]);
  });

  it("gives a run the GPUs it asks for by count, name (case-insensitive, within the full name) and memory", () => {
    expect(refuseGpuRequest(undefined, [])).toBeUndefined();
    expect(refuseGpuRequest({ count: 0 }, [])).toBeUndefined();
    expect(refuseGpuRequest({ count: 1 }, [H200])).toBeUndefined();
    expect(refuseGpuRequest({ count: 1, name: "k80" }, [H200, K80])).toBeUndefined();
    expect(refuseGpuRequest({ count: 1, name: "h200", memoryMiB: 80 * 1024 }, [H200])).toBeUndefined();
  });

  it("refuses what this machine cannot give, saying what was asked, what is here and what to do", () => {
    const none = refuseGpuRequest({ count: 2 }, []);
    expect(none).toContain("asks for 2 GPUs");
    expect(none).toContain("no NVIDIA GPU");
    expect(none).toContain("DSTACK_BACKEND=ec2");
    expect(refuseGpuRequest({ count: 2, name: "K80" }, [H200, K80])).toContain("Tesla K80 (11441 MiB)");
    expect(refuseGpuRequest({ count: 1, name: "K80", memoryMiB: 16384 }, [K80])).toContain("with at least 16384 MiB");
  });

  it("makes the local backend refuse such a workflow before it starts anything", () => {
    const backend = createLocalBackend({ dataDir: dir, gpus: [] });
    expect(backend.check({ workflow: workflow("    resources:\n      gpu: 1\n") })).toContain("asks for 1 GPU");
    expect(backend.check({ workflow: workflow("") })).toBeUndefined();
    const withGpu = createLocalBackend({ dataDir: dir, gpus: [K80] });
    expect(withGpu.check({ workflow: workflow("    resources:\n      gpu:\n        name: K80\n        count: 1\n") })).toBeUndefined();
  });
});

describe("a GPU workflow commented on a machine without GPUs", () => {
  let redis: TestRedis;
  let github: GitHubDouble;
  let service: TestService;

  beforeAll(async () => {
    redis = await startRedis("local-gpus");
    github = await startGitHubDouble();
    github.addRepo({
      owner: "acme",
      name: "gpu",
      files: { ".dstack/workflows.yaml": "workflows:\n  - name: train\n    provider: bash\n    commands: [nvidia-smi]\n    resources:\n      gpu:\n        name: A100\n        count: 4\n" },
    });
    github.setPermission("acme", "gpu", "alice", "write");
    service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github, overrides: { localGpus: [] } });
  });

  afterAll(async () => {
    await service?.stop();
    await github?.close();
    await redis?.stop();
  });

  it("gets a reply that says why nothing ran, and no check run", async () => {
    const issueNumber = github.addIssue({ owner: "acme", repo: "gpu", title: "train it" });
    const body = "/dstack run train";
    github.addIssueComment({ owner: "acme", repo: "gpu", issueNumber, body, user: "alice", id: 77 });
    const payload = makeIssueCommentPayload({ owner: "acme", repo: "gpu", issueNumber, isPullRequest: false, body, user: "alice", commentId: 77 });
    await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
    const reply = await github.waitFor((g) => g.commentsOn("acme", "gpu", issueNumber).find((c) => c.body.includes("> /dstack run train")), { timeoutMs: 10_000 });
    expect(reply.body).toContain("asks for 4 GPUs A100");
    expect(reply.body).toContain("no NVIDIA GPU");
    expect(github.checkRuns).toHaveLength(0);
    github.assertNoViolations();
  });
});
