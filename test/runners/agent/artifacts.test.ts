import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { downloadInputs, uploadArtifacts } from "../../../runners/agent/artifacts.js";
import type { AgentClient, RequestOptions } from "../../../runners/agent/client.js";

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
    expect(done.map((d) => d.path).sort()).toEqual(["model/ckpt/1.pt", "model/weights.bin"]);
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
