import { execFileSync, type ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { runArtifactKey } from "../../src/artifacts/index.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { runCli, type CliResult } from "./cli-process.js";

/**
 * `dstack artifacts download RUN -o DIR` (the built CLI against the whole service, runs seeded in
 * its stores) when DIR cannot be written: it fails at once, in one line, with a non-zero exit code,
 * and leaves no file behind, whole or partial.
 */

let redis: TestRedis;
let service: TestService;
let work: string;
let env: Record<string, string>;
/** A run with three artifact files, one in a folder. */
let runId: string;
/** A run whose second file the store lost: its download fails after the first has arrived. */
let brokenRunId: string;

const FILES = [
  { path: "out/model.bin", body: Buffer.alloc(256 * 1024, 7) },
  { path: "out/deep/n.txt", body: Buffer.from("nested\n") },
  { path: "metrics.json", body: Buffer.from('{"loss":0.1}\n') },
];

function cli(args: string[]): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  return runCli(args, work, { env }).then((r) => ({ ...r, ms: Date.now() - started }));
}

/** Every file and folder under `dir`, relative to it, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => e.split(path.sep).join("/")).sort();
}

/**
 * Makes `dir` unwritable: mode 0555 for a normal user; root ignores modes, so then the immutable
 * attribute (`chattr +i`), which root's writes obey too.
 */
async function makeReadOnly(dir: string): Promise<() => Promise<void>> {
  await chmod(dir, 0o555);
  const probe = path.join(dir, ".probe");
  const writable = await writeFile(probe, "").then(
    () => true,
    () => false,
  );
  if (!writable) return () => chmod(dir, 0o755);
  await rm(probe);
  execFileSync("chattr", ["+i", dir]);
  return async () => {
    execFileSync("chattr", ["-i", dir]);
    await chmod(dir, 0o755);
  };
}

beforeAll(async () => {
  redis = await startRedis("artifacts-download");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  work = await mkdtemp(path.join(os.tmpdir(), "dstack-download-"));
  env = { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: work, NO_COLOR: "1" };
  runId = (await seedRun(service, redis.prefix, { repo: "acme/downloads", workflow: "train", log: "done\n", artifacts: FILES })).id;
  const broken = await seedRun(service, redis.prefix, {
    repo: "acme/downloads",
    workflow: "train",
    log: "done\n",
    artifacts: [
      { path: "a-first.txt", body: Buffer.from("first\n") },
      { path: "z-lost.txt", body: Buffer.from("lost\n") },
    ],
  });
  await service.artifacts.deletePrefix(runArtifactKey(broken.id, "z-lost.txt"));
  brokenRunId = broken.id;
}, 60_000);

/**
 * A front for the service that passes everything through but stalls file downloads after their first
 * 64 KiB (until the client goes away): a download that is surely in flight when the test signals the CLI.
 */
async function startStallingFront(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const upstream = request(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!(req.url ?? "").includes("/artifacts/file")) return void answer.pipe(res);
      let sent = 0;
      answer.on("data", (chunk: Buffer) => {
        if (sent < 64 * 1024) res.write(chunk.subarray(0, 64 * 1024 - sent));
        sent += chunk.length;
      });
      res.on("close", () => answer.destroy());
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

/** Polls until `dir` holds a `.dstack-download-*` folder with a partly written file in it. */
async function waitForStagedBytes(dir: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const names = await tree(dir).catch(() => []);
    if (names.some((n) => n.startsWith(".dstack-download-") && n.endsWith("model.bin"))) return;
  }
  throw new Error(`no staged download appeared in ${dir}`);
}

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("dstack artifacts download", () => {
  it("writes every file at its artifact path and leaves nothing else in DIR", async () => {
    const res = await cli(["artifacts", "download", runId, "-o", "fresh/dir"]);
    expect(res).toMatchObject({ code: 0, stdout: "" });
    expect(await tree(path.join(work, "fresh", "dir"))).toEqual(["metrics.json", "out", "out/deep", "out/deep/n.txt", "out/model.bin"]);
    expect(await readFile(path.join(work, "fresh", "dir", "out", "model.bin"))).toEqual(FILES[0]?.body);
  });

  it("fails at once, in one line and non-zero, when DIR cannot be made (/proc/x), making nothing", async () => {
    const res = await cli(["artifacts", "download", runId, "-o", "/proc/x/y"]);
    expect(res.stderr).toBe("dstack: cannot write `/proc/x` (this file system does not let files or folders be made there); choose a folder you can write to with `-o DIR`\n");
    expect(res.code).toBe(1);
    // Before the fix Node's recursive mkdir never returned; a CLI start plus two requests is well under this.
    expect(res.ms).toBeLessThan(10_000);
  });

  it("refuses an empty -o (an unset shell variable) with exit 2, writing nothing into the current folder", async () => {
    const before = await tree(work);
    const res = await cli(["artifacts", "download", runId, "-o", ""]);
    expect(res).toMatchObject({ code: 2, stdout: "", stderr: "dstack: -o needs a folder: `-o DIR` (`-o .` for the current one)\n" });
    expect(await tree(work)).toEqual(before);
  });

  it("refuses a DIR that is an existing file, leaving the file as it was", async () => {
    await writeFile(path.join(work, "notes.txt"), "keep me\n");
    const res = await cli(["artifacts", "download", runId, "-o", "notes.txt"]);
    expect(res).toMatchObject({ code: 1, stdout: "", stderr: `dstack: cannot write \`${path.join(work, "notes.txt")}\` (it is a file, not a folder); choose a folder you can write to with \`-o DIR\`\n` });
    expect(await readFile(path.join(work, "notes.txt"), "utf8")).toBe("keep me\n");
    const below = await cli(["artifacts", "download", runId, "-o", "notes.txt/sub"]);
    expect(below.stderr).toBe(`dstack: cannot write \`${path.join(work, "notes.txt")}\` (a folder on the way is a file); choose a folder you can write to with \`-o DIR\`\n`);
    expect(below.code).toBe(1);
  });

  it("refuses a read-only DIR, and a new folder inside one, writing nothing", async () => {
    const ro = path.join(work, "read-only");
    await mkdir(ro);
    const restore = await makeReadOnly(ro);
    try {
      const res = await cli(["artifacts", "download", runId, "-o", "read-only"]);
      expect(res.stderr).toBe(`dstack: cannot write \`${ro}\` (permission denied); choose a folder you can write to with \`-o DIR\`\n`);
      expect(res.code).toBe(1);
      const inside = await cli(["artifacts", "download", runId, "-o", "read-only/new"]);
      expect(inside.stderr).toBe(`dstack: cannot write \`${path.join(ro, "new")}\` (permission denied); choose a folder you can write to with \`-o DIR\`\n`);
      expect(inside.code).toBe(1);
      expect(await tree(ro)).toEqual([]);
    } finally {
      await restore();
    }
  });

  it("moves nothing into DIR when one file's place is blocked, and keeps what was there", async () => {
    const dir = path.join(work, "blocked");
    await mkdir(dir);
    await writeFile(path.join(dir, "out"), "a file where the folder out/ must go\n");
    const res = await cli(["artifacts", "download", runId, "-o", "blocked"]);
    expect(res.stderr).toMatch(/^dstack: cannot write `[^`]+\/blocked\/out\/[^`]+` \(a folder on the way is a file\); choose a folder you can write to with `-o DIR`\n$/);
    expect(res.code).toBe(1);
    // metrics.json had arrived in full, but the download is all or nothing.
    expect(await tree(dir)).toEqual(["out"]);
  });

  it("leaves no partial download when a file fails after others arrived, and removes the DIR it made", async () => {
    const res = await cli(["artifacts", "download", brokenRunId, "-o", "partial/new"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr.split("\n")).toHaveLength(2);
    expect(res.stderr).toMatch(/^dstack: .*z-lost\.txt/);
    expect(await readdir(work)).not.toContain("partial");
    // Into an existing folder: it is left as it was found.
    await mkdir(path.join(work, "existing"));
    await writeFile(path.join(work, "existing", "mine.txt"), "mine\n");
    const again = await cli(["artifacts", "download", brokenRunId, "-o", "existing"]);
    expect(again.code).not.toBe(0);
    expect(await tree(path.join(work, "existing"))).toEqual(["mine.txt"]);
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("removes its staging folder and the DIR it made on %s mid-download, and exits %i", async (signal, code) => {
    const front = await startStallingFront(service.url);
    try {
      let child: ChildProcess | undefined;
      const dir = path.join(work, `stopped-${code}`, "new");
      const done = runCli(["artifacts", "download", runId, "-o", dir], work, { env: { ...env, DSTACK_URL: front.url }, onSpawn: (c) => (child = c) });
      await waitForStagedBytes(dir);
      child?.kill(signal);
      const res = await done;
      expect(res.code).toBe(code);
      expect(res.stderr).toBe(`\ndstack: ${signal === "SIGINT" ? "interrupted" : "terminated"}; the partial download was removed\n`);
      expect(await readdir(work)).not.toContain(`stopped-${code}`);
      // Into an existing folder: what was there stays, nothing else.
      await mkdir(path.join(work, "kept"), { recursive: true });
      await writeFile(path.join(work, "kept", "mine.txt"), "mine\n");
      const again = runCli(["artifacts", "download", runId, "-o", "kept"], work, { env: { ...env, DSTACK_URL: front.url }, onSpawn: (c) => (child = c) });
      await waitForStagedBytes(path.join(work, "kept"));
      child?.kill(signal);
      expect((await again).code).toBe(code);
      expect(await tree(path.join(work, "kept"))).toEqual(["mine.txt"]);
    } finally {
      await front.close();
    }
  }, 60_000);
});
