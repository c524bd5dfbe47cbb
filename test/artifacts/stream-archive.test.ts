import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { x as untar } from "tar";
import { createFileArtifactStore, type ArtifactStore } from "../../src/artifacts/index.js";
import { streamArchive } from "../../src/artifacts/stream-archive.js";

let dir: string;
let store: ArtifactStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-archive-"));
  store = createFileArtifactStore({ root: path.join(dir, "store"), publicUrl: "http://127.0.0.1", signingKey: randomBytes(32) });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("streamArchive", () => {
  it("streams a tar.gz that extracts to the same files, long paths and empty files included", async () => {
    const longName = `${"deep/".repeat(30)}file-with-a-long-name.txt`;
    const files: Record<string, Buffer> = {
      "a.txt": Buffer.from("hello\n"),
      "empty.bin": Buffer.alloc(0),
      "exact-block.bin": randomBytes(512),
      "big.bin": randomBytes(3 * 1024 * 1024 + 17),
      [longName]: Buffer.from("long path\n"),
    };
    for (const [name, data] of Object.entries(files)) await store.put(`runs/r/artifacts/${name}`, Readable.from([data]));
    const listed = await store.list("runs/r/artifacts/");
    const out = path.join(dir, "out");
    await mkdir(out);
    await pipeline(
      streamArchive(
        store,
        listed.map((o) => ({ name: o.key.slice("runs/r/artifacts/".length), key: o.key, sizeBytes: o.sizeBytes })),
      ),
      untar({ cwd: out }),
    );
    for (const [name, data] of Object.entries(files)) expect((await readFile(path.join(out, name))).equals(data)).toBe(true);
  });
});
