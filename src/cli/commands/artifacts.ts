import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { DstackError, InvalidInputError } from "../../errors.js";
import type { ApiClient } from "../api-client.js";
import type { CommandContext } from "../command-context.js";
import { connect, paintFor } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { FileWriteError, isFileSystemError } from "../file-write-error.js";
import { formatBytes, formatTable } from "../format.js";
import { ProgressBar } from "../progress-bar.js";

interface ArtifactList {
  runId: string;
  artifacts: Array<{ path: string; sizeBytes: number }>;
  totalBytes: number;
}

/** Files downloaded at once. */
const PARALLEL_DOWNLOADS = 4;

/** `dstack artifacts list <run>` and `dstack artifacts download <run> [-o dir]`. */
export function registerArtifacts(program: Command, ctx: CommandContext): void {
  const artifacts = program.command("artifacts").description("list or download a run's artifacts");
  artifacts
    .command("list")
    .description("list a run's artifact files with their sizes")
    .argument("<run>", "the run id")
    .option("--json", "print a JSON array of {path, sizeBytes}")
    .action(async (runId: string, options: { json?: boolean }) => {
      const client = await connect(ctx);
      const list = await listArtifacts(client, runId);
      if (options.json === true) ctx.io.out(`${JSON.stringify(list.artifacts, null, 2)}\n`);
      else if (list.artifacts.length === 0) ctx.io.err(`dstack: run ${runId} has no artifacts\n`);
      else {
        const rows = list.artifacts.map((a) => [a.path, formatBytes(a.sizeBytes)]);
        ctx.io.out(formatTable(["PATH", "SIZE"], rows, paintFor(ctx)));
        ctx.io.err(`${list.artifacts.length} file${list.artifacts.length === 1 ? "" : "s"}, ${formatBytes(list.totalBytes)}\n`);
      }
      ctx.exit(ExitCode.ok);
    });
  artifacts
    .command("download")
    .description("download a run's artifacts, each file at its artifact path under DIR (a progress bar on a terminal)")
    .argument("<run>", "the run id")
    .option("-o, --output <dir>", "where to write them", ".")
    .action(async (runId: string, options: { output: string }) => {
      const client = await connect(ctx);
      const list = await listArtifacts(client, runId);
      const dir = path.resolve(ctx.cwd, options.output);
      const bar = new ProgressBar(ctx.tty.err ? ctx.io.err : undefined, list.totalBytes);
      const queue = [...list.artifacts];
      const worker = async () => {
        for (let a = queue.shift(); a !== undefined; a = queue.shift()) await downloadFile(client, runId, a.path, dir, (n) => bar.add(n));
      };
      try {
        await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, queue.length) }, worker));
      } finally {
        bar.done();
      }
      ctx.io.err(`downloaded ${list.artifacts.length} file${list.artifacts.length === 1 ? "" : "s"} (${formatBytes(list.totalBytes)}) to ${options.output}\n`);
      ctx.exit(ExitCode.ok);
    });
}

async function listArtifacts(client: ApiClient, runId: string): Promise<ArtifactList> {
  return client.json<ArtifactList>(`/api/v1/runs/${encodeURIComponent(runId)}/artifacts`);
}

async function downloadFile(client: ApiClient, runId: string, rel: string, dir: string, progress: (bytes: number) => void): Promise<void> {
  // The server checks paths too; a path that would land outside DIR is never written.
  const target = path.resolve(dir, rel);
  const inside = path.relative(dir, target);
  if (inside === "" || inside.startsWith("..") || path.isAbsolute(inside)) throw new InvalidInputError(`artifact path ${JSON.stringify(rel)} would be written outside ${dir}`);
  const res = await client.request(`/api/v1/runs/${encodeURIComponent(runId)}/artifacts/file`, { query: { path: rel } });
  if (res.body === null) throw new DstackError("server", `the server sent no bytes for ${rel}`);
  try {
    await mkdir(path.dirname(target), { recursive: true });
    // Made after the folder: a "data" listener starts the flow, and bytes sent before the pipe would be lost.
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
    body.on("data", (chunk: Buffer) => progress(chunk.length));
    await pipeline(body, createWriteStream(target));
  } catch (err) {
    if (!isFileSystemError(err)) throw err;
    await res.body.cancel().catch(() => undefined); // already consumed or closed: nothing left to release
    throw new FileWriteError(target, err);
  }
}
