import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { downloadInputs, uploadArtifacts } from "../../../runners/agent/artifacts.js";
import { AgentApiError, type AgentClient, type RequestOptions } from "../../../runners/agent/client.js";
import { saveOnInterruption, SpotInterrupted } from "../../../runners/agent/interruption.js";

let cwd: string;
let outside: string;

beforeEach(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), "dstack-art-"));
  outside = await mkdtemp(path.join(os.tmpdir(), "dstack-outside-"));
  await writeFile(path.join(outside, "credentials"), "aws_secret_access_key = do-not-leak\n");
});

afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** An agent client that keeps what was uploaded, and serves inputs from a table. */
function fakeClient(inputs: Record<string, string> = {}) {
  const uploaded = new Map<string, string>();
  const client = {
    async request(p: string, options: RequestOptions = {}): Promise<Response> {
      const url = new URL(p, "http://agent");
      if (options.method === "PUT") {
        const chunks: Buffer[] = [];
        for await (const c of options.body as Readable) chunks.push(c as Buffer);
        uploaded.set(url.searchParams.get("path") ?? "", Buffer.concat(chunks).toString());
        return new Response("{}");
      }
      return new Response(inputs[url.searchParams.get("path") ?? ""] ?? "");
    },
    async json(): Promise<unknown> {
      return { files: Object.keys(inputs).map((p) => ({ path: p, sizeBytes: inputs[p]?.length ?? 0 })) };
    },
  };
  return { client: client as unknown as AgentClient, uploaded };
}

const out = { write: () => true };

describe("artifact upload", () => {
  it("uploads the files under each artifact path with their paths in the run", async () => {
    await mkdir(path.join(cwd, "model", "ckpt"), { recursive: true });
    await writeFile(path.join(cwd, "model", "weights.bin"), "w");
    await writeFile(path.join(cwd, "model", "ckpt", "1.pt"), "c");
    const { client, uploaded } = fakeClient();
    const done = await uploadArtifacts({ client, out }, { cwd, artifacts: [{ path: "model" }] });
    expect(done.uploaded.map((d) => d.path).sort()).toEqual(["model/ckpt/1.pt", "model/weights.bin"]);
    expect(uploaded.get("model/weights.bin")).toBe("w");
  });

  it("never follows a symbolic link inside an artifact folder", async () => {
    await mkdir(path.join(cwd, "out"));
    await writeFile(path.join(cwd, "out", "result.txt"), "ok");
    await symlink(path.join(outside, "credentials"), path.join(cwd, "out", "creds"));
    await symlink(outside, path.join(cwd, "out", "dir"));
    const { client, uploaded } = fakeClient();
    await uploadArtifacts({ client, out }, { cwd, artifacts: [{ path: "out" }] });
    expect([...uploaded.keys()]).toEqual(["out/result.txt"]);
  });

  it("refuses an artifact path that leaves the working dir through a linked parent folder", async () => {
    await symlink(outside, path.join(cwd, "escape"));
    const { client, uploaded } = fakeClient();
    await expect(uploadArtifacts({ client, out }, { cwd, artifacts: [{ path: "escape/credentials" }] })).rejects.toThrow(
      "leads outside the working directory through a symbolic link",
    );
    expect(uploaded.size).toBe(0);
  });

  it("refuses `..` in an artifact path", async () => {
    const { client } = fakeClient();
    await expect(uploadArtifacts({ client, out }, { cwd, artifacts: [{ path: "../x" }] })).rejects.toThrow("leaves the working directory");
  });

  it("uploads a hard-linked file as the file it is (the workflow could copy it anyway; conda envs are full of them)", async () => {
    await mkdir(path.join(cwd, "env"));
    await writeFile(path.join(cwd, "env", "a"), "same");
    await link(path.join(cwd, "env", "a"), path.join(cwd, "env", "b"));
    const { client, uploaded } = fakeClient();
    await uploadArtifacts({ client, out }, { cwd, artifacts: [{ path: "env" }] });
    expect(uploaded.get("env/b")).toBe("same");
  });
});

describe("artifact upload limits", () => {
  it("sends no file over the service's limits, names each in the log with its variable, and sends the others", async () => {
    await mkdir(path.join(cwd, "out"));
    await writeFile(path.join(cwd, "out", "a.txt"), "a".repeat(600));
    await writeFile(path.join(cwd, "out", "b.bin"), "b".repeat(2000));
    await writeFile(path.join(cwd, "out", "c.txt"), "c".repeat(600));
    const { client, uploaded } = fakeClient();
    const lines: string[] = [];
    const log = { write: (chunk: string | Buffer) => lines.push(String(chunk)) > 0 };
    const limits = { artifactFileBytes: 1024, runArtifactBytes: 1000, checkpointBytes: 4096 };
    const result = await uploadArtifacts({ client, out: log }, { cwd, artifacts: [{ path: "out" }], uploadLimits: limits });
    expect([...uploaded.keys()]).toEqual(["out/a.txt"]);
    expect(result.uploaded.map((u) => u.path)).toEqual(["out/a.txt"]);
    expect(result.refused).toEqual([
      "artifact out/b.bin is 2.0 KB, over the limit of 1.0 KB set by DSTACK_MAX_ARTIFACT_BYTES",
      "artifact out/c.txt (600 B) would bring the run's artifacts to 1.2 KB, over the limit of 1000 B set by DSTACK_MAX_RUN_ARTIFACT_BYTES",
    ]);
    expect(lines).toContain("[dstack] error: artifact out/b.bin is 2.0 KB, over the limit of 1.0 KB set by DSTACK_MAX_ARTIFACT_BYTES; it was not uploaded\n");
  });
});

describe("upload limits the service enforces", () => {
  /** A client whose service refuses `refusedPath` with 413 (an agent without the limits, or a file that grew since it was measured). */
  function refusingClient(refusedPath: string, message: string) {
    const { client, uploaded } = fakeClient();
    const refusing = {
      ...client,
      async request(p: string, options: RequestOptions = {}): Promise<Response> {
        if (new URL(p, "http://agent").searchParams.get("path") === refusedPath) {
          for await (const chunk of options.body as Readable) void chunk;
          throw new AgentApiError(413, `PUT ${p}: 413 ${JSON.stringify({ code: "too_large", message })}`);
        }
        return client.request(p, options);
      },
    };
    return { client: refusing as unknown as AgentClient, uploaded };
  }

  it("logs the service's 413 with its words, sends the other files and reports the refusal", async () => {
    await mkdir(path.join(cwd, "out"));
    await writeFile(path.join(cwd, "out", "a.txt"), "a");
    await writeFile(path.join(cwd, "out", "b.bin"), "b");
    const message = "artifact out/b.bin is over the limit of 10 MB set by DSTACK_MAX_ARTIFACT_BYTES";
    const { client, uploaded } = refusingClient("out/b.bin", message);
    const lines: string[] = [];
    const result = await uploadArtifacts({ client, out: { write: (chunk) => lines.push(String(chunk)) > 0 } }, { cwd, artifacts: [{ path: "out" }] });
    expect(result).toEqual({ uploaded: [expect.objectContaining({ path: "out/a.txt" })], refused: [message] });
    expect([...uploaded.keys()]).toEqual(["out/a.txt"]);
    expect(lines).toContain(`[dstack] error: ${message}; it was not uploaded\n`);
  });

  it("keeps no checkpoint set with a file missing for the limits: the next attempt must not resume from half a set", async () => {
    await mkdir(path.join(cwd, "ck"));
    await writeFile(path.join(cwd, "ck", "weights.pt"), "w".repeat(100));
    await writeFile(path.join(cwd, "ck", "optimizer.pt"), "o".repeat(100));
    const { client } = fakeClient();
    const lines: string[] = [];
    const interrupted = new SpotInterrupted({ seenAt: Date.now() });
    const report = await saveOnInterruption(
      { client, out: { write: (chunk) => lines.push(String(chunk)) > 0 }, mask: (t) => t },
      { cwd, paths: ["ck"], interrupted, uploadLimits: { artifactFileBytes: 1000, runArtifactBytes: 1000, checkpointBytes: 150 } },
    );
    expect(report.checkpoints).toEqual([]);
    expect(report.reason).toContain("checkpoint file ck/weights.pt (100 B) would bring the attempt's checkpoint set to 200 B, over the limit of 150 B set by DSTACK_MAX_CHECKPOINT_BYTES");
    expect(lines.join("")).toContain("the checkpoint set is incomplete, so it is not kept");
  });
});

describe("dependency inputs", () => {
  it("places each file at its path, and refuses to write through a linked folder of the repository", async () => {
    const { client } = fakeClient({ "data/x.txt": "x" });
    await downloadInputs({ client, out }, { cwd, inputs: [{ runId: "r1", workflow: "download" }] });
    expect(await readFile(path.join(cwd, "data", "x.txt"), "utf8")).toBe("x");

    const other = await mkdtemp(path.join(os.tmpdir(), "dstack-art2-"));
    try {
      await symlink(outside, path.join(other, "data"));
      await expect(downloadInputs({ client, out }, { cwd: other, inputs: [{ runId: "r1", workflow: "download" }] })).rejects.toThrow(
        "through a symbolic link",
      );
      await expect(readFile(path.join(outside, "x.txt"))).rejects.toThrow();
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
