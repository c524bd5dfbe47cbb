import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { fingerprintRequirements } from "../../../runners/agent/requirements-fingerprint.js";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-fingerprint-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes `files` under a fresh folder `name` of the test's root and returns it. */
async function tree(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

const BASE = {
  "ml/requirements.txt": "--no-index\n--find-links wheels  # beside this file\n-r common.txt\n./vendor/tool-1.0.whl\nnumpy==1.26 ; python_version >= '3.9'\n",
  "ml/wheels/tinypkg-1.0-py3-none-any.whl": "wheel one",
  "ml/common.txt": "--requirement=pinned.txt\n",
  "ml/pinned.txt": "requests==2.31\n",
  "vendor/tool-1.0.whl": "tool bytes",
  "train.py": "print('hi')\n",
};

async function fingerprint(changes: Record<string, string> = {}, name = "run"): Promise<string> {
  const dir = await tree(name, { ...BASE, ...changes });
  return fingerprintRequirements("ml/requirements.txt", dir);
}

describe("fingerprintRequirements", () => {
  it("is the same for the same files in another run's folder, whatever else changed", async () => {
    const a = await fingerprint({}, "run-a");
    expect(await fingerprint({ "train.py": "print('changed')\n", "ml/notes.txt": "x" }, "run-b")).toBe(a);
  });

  it("changes with a package in a `--find-links` folder (relative to the requirements file)", async () => {
    const a = await fingerprint({}, "run-a");
    expect(await fingerprint({ "ml/wheels/tinypkg-1.0-py3-none-any.whl": "wheel two" }, "run-b")).not.toBe(a);
    expect(await fingerprint({ "ml/wheels/tinypkg-2.0-py3-none-any.whl": "wheel two" }, "run-c")).not.toBe(a);
  });

  it("changes with an included file, nested includes too (`-r`, `--requirement=`)", async () => {
    const a = await fingerprint({}, "run-a");
    expect(await fingerprint({ "ml/common.txt": "--requirement=pinned.txt\nscipy\n" }, "run-b")).not.toBe(a);
    expect(await fingerprint({ "ml/pinned.txt": "requests==2.32\n" }, "run-c")).not.toBe(a);
  });

  it("changes with a local package path (relative to the working dir), `file:` and `name @ path` forms too", async () => {
    const a = await fingerprint({}, "run-a");
    expect(await fingerprint({ "vendor/tool-1.0.whl": "other tool bytes" }, "run-b")).not.toBe(a);
    const withFileUrl = { "ml/requirements.txt": "file:vendor/src\n", "vendor/src/setup.py": "one" };
    const b = await fingerprint(withFileUrl, "run-c");
    expect(await fingerprint({ ...withFileUrl, "vendor/src/setup.py": "two" }, "run-d")).not.toBe(b);
    const direct = { "ml/requirements.txt": "tool @ ./vendor/tool-1.0.whl\n" };
    const c = await fingerprint(direct, "run-e");
    expect(await fingerprint({ ...direct, "vendor/tool-1.0.whl": "changed" }, "run-f")).not.toBe(c);
  });

  it("never shares an environment with an editable install between run folders", async () => {
    const editable = { "ml/requirements.txt": "-e ./vendor/src\n", "vendor/src/setup.py": "one" };
    expect(await fingerprint(editable, "run-a")).not.toBe(await fingerprint(editable, "run-b"));
  });

  it("treats remote indexes and URLs as text, the same in every run folder", async () => {
    const remote = { "ml/requirements.txt": "-i https://pypi.example/simple\n-f https://example.com/wheels\nhttps://example.com/x.whl\n" };
    expect(await fingerprint(remote, "run-a")).toBe(await fingerprint(remote, "run-b"));
  });

  it("leaves a missing include to pip to report, and notices when it appears", async () => {
    const missing = await fingerprint({ "ml/requirements.txt": "-r extra.txt\n" }, "run-a");
    expect(await fingerprint({ "ml/requirements.txt": "-r extra.txt\n", "ml/extra.txt": "" }, "run-b")).not.toBe(missing);
  });
});
